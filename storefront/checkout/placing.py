"""Placing an order: short transactions around the payment, never one held open during it.

1. Hold (one transaction, the cart locked): check the version, price the cart again, take the
   stock of every line, redeem the coupon, take an order number, record the attempt with a
   sealed snapshot of lines and totals.
2. Pay: the provider is called outside any transaction, with the attempt's id as its
   idempotency key.
3. Settle (one transaction): accepted (or pending) → the order exists and the lines it took
   leave the cart as one revision; declined or failed → the stock and coupon come back and the
   cart is exactly as it was, version included (step 1 wrote no revision).

An attempt left open by a crash between 2 and 3 is settled by the clean-up job (``jobs.py``).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import time
from collections import Counter
from dataclasses import asdict, dataclass
from datetime import timedelta

from flask import current_app, url_for
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from storefront import clock
from storefront.analytics import order_events
from storefront.cart import store
from storefront.cart.models import Cart as CartRow
from storefront.cart.ops import TakeOrdered
from storefront.cart.state import Line, apply
from storefront.cart.types import Change, IdempotencyKey, Owner, Source
from storefront.checkout import details as checkout_details
from storefront.checkout import quoting, rules
from storefront.checkout.models import Counter as NamedCounter
from storefront.checkout.models import Coupon, CouponUse, PaymentAttempt
from storefront.checkout.providers import registry
from storefront.checkout.providers.base import (
    PaymentOutcome,
    PaymentRequest,
    PaymentStatus,
    ProviderUnavailable,
)
from storefront.database import write
from storefront.errors import (
    CheckoutIncomplete,
    CheckoutInProgress,
    EmptyCart,
    IdempotencyKeyReused,
    InvalidCoupon,
    NotFound,
    OutOfStock,
    PaymentDeclined,
    PaymentUnavailable,
    ShippingUnavailable,
    UnknownPaymentProvider,
    VersionConflict,
)
from storefront.extensions import db
from storefront.orders import services as orders
from storefront.orders import stock
from storefront.orders.models import Order

log = logging.getLogger(__name__)

# An attempt still open this long after it began was cut off (a crash, a killed worker): the
# clean-up job asks the provider how it ended, or gives its stock back.
SETTLE_AFTER = timedelta(minutes=10)
# A repeated request waits this long for the first one's payment to finish, then answers it.
WAIT_FOR_FIRST = 20.0
UNAVAILABLE = "The payment service could not be reached, and nothing was charged. Try again."


@dataclass(frozen=True)
class Placed:
    order: Order
    change: Change | None  # the cart revision that took the ordered lines (None: a repeat)
    redirect: str | None = None


class _Repeat(Exception):
    def __init__(self, attempt: PaymentAttempt):
        self.attempt = attempt


def provider_for(name: object):
    provider = registry.get(name) if isinstance(name, str) else None
    if provider is None:
        offered = ", ".join(registry.configured())
        raise UnknownPaymentProvider(
            f"That payment method is not offered here; choose one of: {offered}.",
            fields=["payment_provider"],
        )
    return provider


def earlier(owner: Owner, idempotency: IdempotencyKey | None) -> Placed | None:
    """The answer to a repeated Idempotency-Key (asked before any rate limit), or None."""
    if idempotency is None:
        return None
    cart_id = store.read(owner).cart_id
    if cart_id is None:
        return None
    attempt = db.session.scalar(
        select(PaymentAttempt).where(
            PaymentAttempt.cart_id == cart_id, PaymentAttempt.key_hash == idempotency.key_hash
        )
    )
    return None if attempt is None else _answer(attempt, idempotency)


def complete(
    owner: Owner,
    *,
    provider_name: object,
    token: object,
    idempotency: IdempotencyKey | None,
    expected_version: int | None,
    expected_total: int | None = None,
) -> Placed:
    provider = provider_for(provider_name)
    if token is not None and (not isinstance(token, str) or len(token) > 200):
        raise CheckoutIncomplete("The card token is not valid.", fields=["payment_token"])
    if provider.needs_token and not token:
        raise CheckoutIncomplete("Enter the card details.", fields=["payment_token"])
    try:
        attempt, request = _hold(
            owner, provider.name, token, idempotency, expected_version, expected_total
        )
    except _Repeat as repeat:
        return _answer(repeat.attempt, idempotency)
    try:
        outcome = provider.start(request)
    except ProviderUnavailable as exc:
        log.warning("payment provider %s unavailable: %s", provider.name, exc)
        _fail(owner, attempt.id, "payment_unavailable", UNAVAILABLE)
        raise PaymentUnavailable(UNAVAILABLE) from None
    if outcome.status not in (PaymentStatus.CAPTURED, PaymentStatus.PENDING):
        message = outcome.message or "The payment was declined."
        _fail(owner, attempt.id, "payment_declined", message)
        raise PaymentDeclined(f"{message} Nothing was charged; your cart is as it was.")
    return _settle(owner, attempt, outcome)


def _customer_hash(email: str) -> bytes:
    secret = current_app.config["SECRET_KEY"].encode()
    return hmac.new(secret, b"coupon-customer|" + email.lower().encode(), hashlib.sha256).digest()


def _hold(owner, provider_name, token, idempotency, expected_version, expected_total):
    held: dict = {}

    def hold(change: Change) -> None:
        held["attempt"], held["request"] = _hold_locked(
            change, owner, provider_name, token, idempotency, expected_version, expected_total
        )

    try:
        store.write(owner, lambda cart: (None, cart), create=False, also=hold)
    except NotFound:
        raise EmptyCart("Your cart is empty: there is nothing to order.") from None
    return held["attempt"], held["request"]


def _hold_locked(
    change, owner, provider_name, token, idempotency, expected_version, expected_total
):
    cart_id, version, cart = change.cart_id, change.version, change.after
    # The key first: a repeat of a request that has since emptied the cart gets its order.
    if idempotency is not None:
        repeat = db.session.scalar(
            select(PaymentAttempt).where(
                PaymentAttempt.cart_id == cart_id, PaymentAttempt.key_hash == idempotency.key_hash
            )
        )
        if repeat is not None:
            raise _Repeat(repeat)
    if expected_version is not None and expected_version != version:
        raise VersionConflict(
            f"The cart is at version {version}, not {expected_version}; "
            "check the cart and the new total, then place the order again."
        )
    if db.session.scalar(
        select(PaymentAttempt.id).where(
            PaymentAttempt.cart_id == cart_id, PaymentAttempt.status == "open"
        )
    ):
        raise CheckoutInProgress(
            "An order for this cart is being paid on another device; wait a moment."
        )
    if not len(cart):
        raise EmptyCart("Your cart is empty: there is nothing to order.")
    details = checkout_details.load(cart_id, owner.user_id)
    checkout = quoting.price(cart_id, version, cart, details)
    _refuse_what_stands_in_the_way(checkout)
    if expected_total is not None and expected_total != checkout.quote.total:
        raise VersionConflict(
            "The total changed since you saw it (a price or your cart changed); "
            "check the new total and place the order again."
        )
    attempt_id = secrets.token_hex(16)
    units = Counter()
    for line in checkout.lines:
        units[line.product_id] += line.quantity
    short = stock.take(units, attempt_id)
    if short:
        skus = sorted({q.sku for q in checkout.lines if q.product_id in short})
        raise OutOfStock(
            "Not enough in stock for: " + ", ".join(skus) + ". Nothing was ordered.", skus=skus
        )
    coupon_id = _redeem(checkout, attempt_id, details.email)
    number = db.session.execute(
        update(NamedCounter)
        .where(NamedCounter.name == "order_number")
        .values(value=NamedCounter.value + 1)
        .returning(NamedCounter.value)
    ).scalar_one()
    method = checkout.method
    snapshot = {
        "currency": checkout.currency,
        "email": details.email,
        "address": asdict(details.address),
        "phone": details.phone,
        "shipping_method": method.id,
        "shipping_name": method.name,
        "coupon": checkout.coupon.code if checkout.coupon else None,
        "coupon_id": coupon_id,
        "lines": [
            {**asdict(q), "options": [list(pair) for pair in q.options]} for q in checkout.lines
        ],
        "totals": {
            "subtotal": checkout.quote.subtotal,
            "discount": checkout.quote.discount,
            "shipping": checkout.quote.shipping,
            "tax": checkout.quote.tax,
            "tax_included": checkout.quote.tax_included,
            "total": checkout.quote.total,
        },
    }
    now = clock.now()
    attempt = PaymentAttempt(
        id=attempt_id,
        cart_id=cart_id,
        key_hash=idempotency.key_hash if idempotency else None,
        request_hash=idempotency.request_hash if idempotency else None,
        status="open",
        provider=provider_name,
        order_number=number,
        cart_version=version,
        snapshot=orders.seal_snapshot(attempt_id, snapshot),
        created_at=now,
        settle_by=now + SETTLE_AFTER,
    )
    db.session.add(attempt)
    public = current_app.config["PUBLIC_URL"]
    request = PaymentRequest(
        attempt_id=attempt_id,
        order_number=str(number),
        amount=checkout.quote.total,
        currency=checkout.currency,
        email=details.email,
        description=f"{current_app.config['SHOP_NAME']} order {number}",
        token=token,
        success_url=public + url_for("orders.page", number=number),
        cancel_url=public + url_for("checkout.payment_cancelled", attempt=attempt_id),
        hold_seconds=int(current_app.config["STOCK_HOLD"].total_seconds()),
    )
    return attempt, request


def _refuse_what_stands_in_the_way(checkout: quoting.Checkout) -> None:
    short = checkout.problems_with("out_of_stock", "unavailable")
    if short:
        skus = sorted({p.sku for p in short})
        raise OutOfStock(" ".join(p.message for p in short), skus=skus)
    for problem in checkout.problems_with("shipping_unavailable"):
        raise ShippingUnavailable(problem.message)
    needs_address = checkout.method.needs_address if checkout.method else True
    missing = checkout.details.missing(needs_address=needs_address)
    if checkout.method is None:
        missing.append("shipping_method")
    if missing:
        raise CheckoutIncomplete(
            "Fill in what the order still needs: " + ", ".join(missing) + ".", fields=missing
        )
    for problem in checkout.problems_with("invalid_coupon"):
        raise InvalidCoupon(problem.message)


def _redeem(checkout: quoting.Checkout, attempt_id: str, email: str) -> int | None:
    """One conditional UPDATE: the usage limit holds however many checkouts race for it."""
    if checkout.coupon is None:
        return None
    coupon = rules.find_coupon(checkout.coupon.code)
    taken = db.session.execute(
        update(Coupon)
        .where(
            Coupon.id == coupon.id,
            Coupon.active,
            (Coupon.usage_limit.is_(None)) | (Coupon.used < Coupon.usage_limit),
        )
        .values(used=Coupon.used + 1)
    ).rowcount
    if not taken:
        raise InvalidCoupon("That coupon has been used up.")
    customer = _customer_hash(email) if coupon.once_per_customer else None
    if customer is not None and db.session.scalar(
        select(CouponUse.id).where(CouponUse.coupon_id == coupon.id, CouponUse.customer == customer)
    ):
        raise InvalidCoupon("You have already used that coupon.")
    db.session.add(CouponUse(coupon_id=coupon.id, attempt_id=attempt_id, customer=customer))
    try:
        db.session.flush()
    except IntegrityError:  # the same customer's other checkout got there first
        raise InvalidCoupon("You have already used that coupon.") from None
    return coupon.id


def _fail(owner: Owner, attempt_id: str, code: str, message: str) -> None:
    def fail() -> None:
        if orders.fail_attempt(attempt_id, code, message):
            order_events.payment_failed(owner.channel)

    write(fail)


def _settle(owner: Owner, attempt: PaymentAttempt, outcome: PaymentOutcome) -> Placed:
    snap = orders.open_snapshot(attempt)
    taken = tuple(
        Line(q["line_id"], q["sku"], q["quantity"], tuple(tuple(p) for p in q["options"]))
        for q in snap["lines"]
    )
    op = TakeOrdered(attempt.order_number, taken)
    made: dict = {}

    def make_order(change: Change) -> None:
        checkout_details.note_placing(change.cart_id, owner.channel)
        made["order"] = orders.create(
            attempt, outcome, owner.user_id, cart_units=change.after.item_count
        )
        if made["order"] is None:
            raise _SettledElsewhere()

    try:
        change = store.write(
            owner,
            lambda cart: (op, apply(cart, op)),
            source=Source.ORDER,
            create=False,
            also=make_order,
        )
    except NotFound:
        # The cart is gone from under this owner (signed in meanwhile, merged): the order
        # still stands; only the cart is not touched.
        change = None
        made["order"] = write(lambda: orders.create(attempt, outcome, owner.user_id))
        if made["order"] is None:
            raise PaymentUnavailable(UNAVAILABLE) from None
    except _SettledElsewhere:
        # Paid after the clean-up job had given the held stock back: the money goes back.
        log.error("attempt %s settled before its payment finished; refunding", attempt.id)
        _refund_quietly(attempt, outcome)
        raise PaymentUnavailable(UNAVAILABLE) from None
    return Placed(made["order"], change, outcome.redirect_url)


class _SettledElsewhere(Exception):
    pass


def settle_recovered(attempt: PaymentAttempt, outcome: PaymentOutcome) -> bool:
    """An attempt a crash left open turned out paid: the order is made exactly as if the
    request had lived, the lines leaving the cart of whoever it belongs to."""
    cart = db.session.get(CartRow, attempt.cart_id)
    # A cart no longer open under its owner (merged, expired) is left as it is: only the
    # order is made (``_settle`` finds no cart to take the lines from).
    owner = Owner(user_id=cart.user_id, guest_key=cart.guest_key or b"\0" * 32)
    try:
        _settle(owner, attempt, outcome)
    except PaymentUnavailable:
        return False
    return True


def _refund_quietly(attempt: PaymentAttempt, outcome: PaymentOutcome) -> None:
    if outcome.status != PaymentStatus.CAPTURED or not outcome.reference:
        return
    snap = orders.open_snapshot(attempt)
    try:
        registry.get(attempt.provider).refund(
            outcome.reference, snap["totals"]["total"], snap["currency"], f"refund-{attempt.id}"
        )
    except ProviderUnavailable:
        log.error("refund of attempt %s failed; refund it by hand", attempt.id)


def _answer(attempt: PaymentAttempt, idempotency: IdempotencyKey | None) -> Placed:
    """What a repeated key gets: the first request's order or its refusal, once it is known."""
    if idempotency is not None and attempt.request_hash != idempotency.request_hash:
        raise IdempotencyKeyReused(
            "This Idempotency-Key was already used for a different request; use a new key."
        )
    deadline = time.monotonic() + WAIT_FOR_FIRST
    attempt_id = attempt.id
    while attempt.status == "open" and time.monotonic() < deadline:
        db.session.rollback()  # end the read so the next one sees the first request's commit
        time.sleep(0.05)
        attempt = db.session.get(PaymentAttempt, attempt_id, populate_existing=True)
    if attempt.status == "open":
        raise CheckoutInProgress("This order is still being paid; ask again in a moment.")
    if attempt.status == "placed":
        order = db.session.scalar(select(Order).where(Order.attempt_id == attempt_id))
        return Placed(order, None)
    if attempt.error_code == "payment_declined":
        raise PaymentDeclined(f"{attempt.error_message} Nothing was charged.")
    raise PaymentUnavailable(attempt.error_message or UNAVAILABLE)
