"""Orders: made from a payment attempt's snapshot, found for whoever may see them, and closed
(cancelled, expired) with their stock and coupon given back, each exactly once."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from flask import current_app
from sqlalchemy import delete, select, update

from storefront import clock
from storefront.analytics import order_events
from storefront.analytics.kinds import DeviceKind
from storefront.cart import store
from storefront.cart.sealing import keyring
from storefront.checkout.models import Coupon, CouponUse, PaymentAttempt
from storefront.checkout.providers.base import PaymentOutcome, PaymentStatus
from storefront.errors import NotFound
from storefront.extensions import db
from storefront.mail import orders as order_mail
from storefront.mail import reminders
from storefront.orders import email_hash, stock
from storefront.orders.models import AMOUNTS, Order

STATUS_WORDS = {
    "pending": "Waiting for payment",
    "paid": "Paid",
    "fulfilled": "Fulfilled",
    "cancelled": "Cancelled",
    "refunded": "Refunded",
}


def order_aad(number: int) -> bytes:
    return f"order|{number}".encode()


def attempt_aad(attempt_id: str) -> bytes:
    return f"attempt|{attempt_id}".encode()


def seal_snapshot(attempt_id: str, snapshot: dict) -> bytes:
    store.remember_key_in_use()
    return keyring().seal(json.dumps(snapshot).encode(), attempt_aad(attempt_id))


def open_snapshot(attempt: PaymentAttempt) -> dict:
    return json.loads(keyring().open(attempt.snapshot, attempt_aad(attempt.id)))


@dataclass(frozen=True)
class OrderLineView:
    sku: str
    name: str
    options: dict
    quantity: int
    unit_price: int
    line_total: int


@dataclass(frozen=True)
class OrderView:
    order: Order
    email: str
    address: dict
    phone: str
    shipping_name: str
    lines: tuple[OrderLineView, ...]

    @property
    def status_words(self) -> str:
        return STATUS_WORDS.get(self.order.status, self.order.status)


def view(order: Order) -> OrderView:
    raw = json.loads(keyring().open(order.sealed, order_aad(order.number)))
    return OrderView(
        order,
        raw["email"],
        raw["address"],
        raw.get("phone", ""),
        raw.get("shipping_name", order.shipping_method),
        tuple(
            OrderLineView(
                line["sku"],
                line["name"],
                dict(line["options"]),
                line["quantity"],
                line["unit_price"],
                line["line_total"],
            )
            for line in raw["lines"]
        ),
    )


def create(
    attempt: PaymentAttempt,
    outcome: PaymentOutcome,
    user_id: int | None,
    *,
    cart_units: int | None = None,
) -> Order:
    """Inside a transaction: the order for an attempt the provider accepted. Refuses (returns
    None) when the attempt is no longer open: the clean-up job settled it first.
    ``cart_units``: what the cart holds once the order took its lines (None: it took none)."""
    won = db.session.execute(
        update(PaymentAttempt)
        .where(PaymentAttempt.id == attempt.id, PaymentAttempt.status == "open")
        .values(status="placed")
    ).rowcount
    if not won:
        return None
    snap = open_snapshot(attempt)
    now = clock.now()
    paid = outcome.status == PaymentStatus.CAPTURED
    config = current_app.config
    hold = config["MANUAL_PAYMENT_WINDOW"] if attempt.provider == "manual" else config["STOCK_HOLD"]
    sealed = {k: snap[k] for k in ("email", "address", "phone", "shipping_name", "lines")}
    order = Order(
        number=attempt.order_number,
        status="paid" if paid else "pending",
        user_id=user_id,
        cart_id=attempt.cart_id,
        cart_version_before=attempt.cart_version,
        attempt_id=attempt.id,
        currency=snap["currency"],
        **{name: snap["totals"][name] for name in AMOUNTS},
        shipping_method=snap["shipping_method"],
        coupon_code=snap["coupon"],
        provider=attempt.provider,
        payment_status=str(outcome.status),
        payment_reference=outcome.reference,
        placed_at=now,
        paid_at=now if paid else None,
        hold_until=None if paid else now + hold,
        sealed=keyring().seal(json.dumps(sealed).encode(), order_aad(attempt.order_number)),
        email_hash=email_hash.of(snap["email"]),
    )
    db.session.add(order)
    db.session.flush()
    ordered = [(line["sku"], line["quantity"]) for line in snap["lines"]]
    order_events.placed(order, ordered, cart_units)
    order_mail.order_changed(order, "placed")
    if user_id is not None:
        reminders.order_followed(user_id, order.number, order.placed_at)
    return order


def units(attempt: PaymentAttempt) -> Counter:
    """What an attempt took: product id → quantity."""
    taken = Counter()
    for line in open_snapshot(attempt)["lines"]:
        taken[line["product_id"]] += line["quantity"]
    return taken


def release(attempt: PaymentAttempt, reason: str, *, restock: bool = True) -> None:
    """Inside a transaction: give back what an attempt held (stock, coupon use)."""
    snap = open_snapshot(attempt)
    if restock:
        stock.give_back(units(attempt), reason, attempt.id)
    if snap.get("coupon_id") is not None:
        db.session.execute(
            update(Coupon).where(Coupon.id == snap["coupon_id"]).values(used=Coupon.used - 1)
        )
        db.session.execute(delete(CouponUse).where(CouponUse.attempt_id == attempt.id))


def fail_attempt(attempt_id: str, code: str, message: str, *, status: str = "failed") -> bool:
    """Inside a transaction: close an open attempt and give back what it held; False when it
    was not open any more (someone else settled it). Its Idempotency-Key is let go: only
    successful results are remembered, so the shopper may retry under the same key (requests
    already waiting on this attempt still get its refusal)."""
    won = db.session.execute(
        update(PaymentAttempt)
        .where(PaymentAttempt.id == attempt_id, PaymentAttempt.status == "open")
        .values(status=status, key_hash=None, error_code=code, error_message=message[:300])
    ).rowcount
    if won:
        release(db.session.get(PaymentAttempt, attempt_id), "release")
    return bool(won)


def cancel(order: Order, *, reason: str = "cancel", device: DeviceKind = DeviceKind.SERVER) -> bool:
    """Inside a transaction: cancel an order that is not yet paid or sent; its stock and coupon
    come back. False when another process changed its status first."""
    won = db.session.execute(
        update(Order)
        .where(Order.id == order.id, Order.status == "pending")
        .values(status="cancelled", closed_at=clock.now(), payment_status="cancelled")
    ).rowcount
    if won:
        release(db.session.get(PaymentAttempt, order.attempt_id), reason)
        db.session.refresh(order)
        order_events.cancelled(order, device)
        order_mail.order_changed(order, "cancelled")
    return bool(won)


def by_number(number: object) -> Order | None:
    if isinstance(number, str):
        number = int(number) if number.isascii() and number.isdigit() and len(number) <= 9 else None
    if not isinstance(number, int) or isinstance(number, bool):
        return None
    return db.session.scalar(select(Order).where(Order.number == number))


def visible(number: object, *, user_id: int | None, placed_here: list[int], staff: bool) -> Order:
    """The order if this viewer may see it; otherwise NotFound, exactly as for a number that
    does not exist (no leak of which numbers are taken)."""
    order = by_number(number)
    if order is not None and (
        staff or (user_id is not None and order.user_id == user_id) or order.number in placed_here
    ):
        return order
    raise NotFound("There is no such order.")


def for_user(user_id: int) -> list[Order]:
    return list(
        db.session.scalars(
            select(Order).where(Order.user_id == user_id).order_by(Order.number.desc())
        )
    )


def overdue(now: datetime, limit: int) -> list[Order]:
    return list(
        db.session.scalars(
            select(Order)
            .where(Order.status == "pending", Order.hold_until <= now)
            .order_by(Order.hold_until)
            .limit(limit)
        )
    )
