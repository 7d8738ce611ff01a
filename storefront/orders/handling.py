"""Staff handling an order: mark paid, fulfil, cancel, refund. One function per action, each one
write transaction with the order row locked (PostgreSQL ``SELECT ... FOR UPDATE``; SQLite's
write lock, taken by ``write()`` before the first read), so of two staff acting on one order at
once the second sees what the first did and is refused with a reason. The audit entry and the
timeline event are written in the same transaction as the change.

Money goes back through the order's payment provider while the order is locked: two staff
cannot both send a refund for the same remainder, and a provider that cannot refund now leaves
the order exactly as it was (502). The price: the lock is held for the provider's answer (one
HTTP call for Stripe; nothing for ``manual`` and ``test``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import select

from storefront import clock
from storefront.accounts.models import User
from storefront.admin import audit
from storefront.analytics import order_events
from storefront.analytics.kinds import DeviceKind
from storefront.catalog import changes
from storefront.catalog.changes import ProductFacts
from storefront.catalog.models import Product
from storefront.checkout.models import PaymentAttempt
from storefront.checkout.providers import registry
from storefront.checkout.providers.base import ProviderUnavailable
from storefront.database import write
from storefront.errors import BadRequest, InvalidTransition, NotFound, PaymentUnavailable
from storefront.extensions import db
from storefront.mail import orders as order_mail
from storefront.money import to_decimal_text
from storefront.orders import services as orders
from storefront.orders import stock, transitions
from storefront.orders.models import Order, OrderEvent, StockMovement

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Request:
    """What staff asked for, already parsed by the route (form or JSON)."""

    action: str
    tracking: str | None = None
    amount: str | None = None  # decimal text; None: all that is left
    restock: bool = False
    # The order's state as the staff member's page showed it (``seen(order)``); None (JSON):
    # the status rules alone decide.
    seen: str | None = None


def seen(order: Order) -> str:
    """The order's state as a page shows it, sent back with a form so a change made by someone
    else in between is noticed instead of acted on blindly."""
    return f"{order.status}:{order.refunded}"


@dataclass(frozen=True)
class Handled:
    order: Order  # as it is now
    # The products whose stock came back, before and after, for the caller to announce to
    # open pages after the commit (catalog/changes.py).
    restocked: tuple[tuple[ProductFacts, ProductFacts], ...] = ()


def act(staff: User, number: object, req: Request) -> Handled:
    """Apply one staff action to order ``number``."""
    handler = HANDLERS.get(req.action)
    if handler is None:
        raise NotFound(f"There is no order action {req.action[:40]!r}.")
    found = orders.by_number(number)
    if found is None:
        raise NotFound("There is no such order.")
    order_id = found.id

    def work() -> Handled:
        order = _locked(order_id)
        if req.seen is not None and req.seen != seen(order):
            raise InvalidTransition(
                f"Order {order.number} changed while you were looking at it: it is now "
                f"{orders.STATUS_WORDS[order.status].lower()}"
                + (f", {_text(order.refunded, order)} refunded" if order.refunded else "")
                + ". Nothing was done; look at it again before you act.",
                status=order.status,
            )
        transitions.check(req.action, order.status, order.number)
        before = _facts(order)
        refunded_before = order.refunded
        products = _products(order) if req.action in ("cancel", "refund") else []
        stock_before = [changes.snapshot(p) for p in products]
        handler(staff, order, req)
        audit.record(staff, f"order.{req.action}", str(order.number), before, _facts(order))
        _tell_shopper(order, req.action, order.refunded - refunded_before)
        db.session.flush()
        for product in products:
            db.session.refresh(product, ["stock"])
        moved = tuple(
            (old, new)
            for old, new in zip(stock_before, (changes.snapshot(p) for p in products), strict=True)
            if old != new
        )
        return Handled(order, moved)

    return write(work)


def _tell_shopper(order: Order, action: str, refunded_now: int) -> None:
    """The shopper's email for the step, queued with it (storefront/mail/orders.py)."""
    if action == "mark-paid":
        order_mail.order_changed(order, "paid")
    elif action == "fulfil":
        order_mail.order_changed(order, "fulfilled", tracking=order.tracking)
    elif action == "cancel":
        order_mail.order_changed(order, "cancelled")
    elif action == "refund":
        # A partial refund and a later one are two emails: told apart by the total so far.
        order_mail.order_changed(
            order, "refunded", key_suffix=f":{order.refunded}", amount=refunded_now
        )


def _products(order: Order) -> list[Product]:
    attempt = db.session.get(PaymentAttempt, order.attempt_id)
    ids = sorted(orders.units(attempt)) if attempt is not None else []
    return list(db.session.scalars(select(Product).where(Product.id.in_(ids)))) if ids else []


def _locked(order_id: int) -> Order:
    return db.session.scalars(
        select(Order)
        .where(Order.id == order_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()


def _facts(order: Order) -> dict[str, object]:
    return {
        "status": order.status,
        "payment_status": order.payment_status,
        "refunded": _text(order.refunded, order),
        "tracking": order.tracking,
    }


def _text(amount: int, order: Order) -> str:
    return to_decimal_text(amount, order.currency)


def _event(staff: User, order: Order, kind: str, amount=None, note=None) -> None:
    db.session.add(
        OrderEvent(
            order_id=order.id,
            at=clock.now(),
            kind=kind,
            staff_user_id=staff.id,
            actor=staff.email,
            amount=amount,
            note=note,
        )
    )


def _mark_paid(staff: User, order: Order, req: Request) -> None:
    order.status = "paid"
    order.payment_status = "captured"
    order.paid_at = clock.now()
    order.hold_until = None  # the expiry job leaves it alone from now on
    _event(staff, order, "paid", note="marked paid by staff")
    order_events.paid(order, DeviceKind.SUPPORT)


def _fulfil(staff: User, order: Order, req: Request) -> None:
    order.status = "fulfilled"
    order.tracking = transitions.tracking_note(req.tracking)
    _event(staff, order, "fulfilled", note=order.tracking)


def _cancel(staff: User, order: Order, req: Request) -> None:
    refund, route = 0, None
    if order.status == "paid":
        refund = order.total - order.refunded
        route = _pay_back(order, refund) if refund else None
        order.refunded = order.total
        order.payment_status = "refunded"
    else:
        order.payment_status = "cancelled"
    attempt = db.session.get(PaymentAttempt, order.attempt_id)
    orders.release(attempt, "cancel", restock=not _restocked(order))
    order.status = "cancelled"
    order.closed_at = clock.now()
    order.hold_until = None
    note = f"{_text(refund, order)} {order.currency} paid back {route}" if refund else None
    _event(staff, order, "cancelled", amount=refund or None, note=note)
    order_events.cancelled(order, DeviceKind.SUPPORT, refunded=refund)


def _refund(staff: User, order: Order, req: Request) -> None:
    amount = transitions.refund_amount(req.amount, order.total, order.refunded, order.currency)
    if req.restock and _restocked(order):
        raise InvalidTransition(
            f"Order {order.number}'s items are already back in stock; refund without restocking."
        )
    route = _pay_back(order, amount)
    if req.restock:
        attempt = db.session.get(PaymentAttempt, order.attempt_id)
        stock.give_back(orders.units(attempt), "refund", order.attempt_id)
    order.refunded += amount
    order.status = transitions.status_after_refund(order.status, order.total, order.refunded)
    if order.status == "refunded":
        order.payment_status = "refunded"
        order.closed_at = clock.now()
    note = f"paid back {route}" + ("; items put back in stock" if req.restock else "")
    _event(staff, order, "refunded", amount=amount, note=note)
    order_events.refunded(order, amount, DeviceKind.SUPPORT)


def _restocked(order: Order) -> bool:
    """Whether the order's units already went back to stock (a refund that restocked)."""
    return (
        db.session.scalar(
            select(StockMovement.id)
            .where(StockMovement.attempt_id == order.attempt_id, StockMovement.delta > 0)
            .limit(1)
        )
        is not None
    )


def _pay_back(order: Order, amount: int) -> str:
    """Refund ``amount`` through the order's provider; how it went back, in words."""
    provider = registry.get(order.provider)
    if provider is None:
        return f"by hand (the {order.provider} provider is not configured here any more)"
    try:
        # Keyed by what was refunded before and how much: a retry after a lost answer is the
        # same refund; another amount is another refund, not a clash with the first key.
        provider.refund(
            order.payment_reference or "",
            amount,
            order.currency,
            f"refund-{order.number}-{order.refunded}-{amount}",
        )
    except ProviderUnavailable as e:
        log.warning("refund of order %s failed: %s", order.number, e)
        raise PaymentUnavailable(
            f"The {order.provider} payment provider could not refund order {order.number} now; "
            "nothing was changed. Try again in a moment."
        ) from None
    if order.provider == "manual":
        return "by hand (bank transfer or at pickup: the manual provider moves no money)"
    return f"through {order.provider}"


HANDLERS: dict[str, Callable[[User, Order, Request], None]] = {
    "mark-paid": _mark_paid,
    "fulfil": _fulfil,
    "cancel": _cancel,
    "refund": _refund,
}


def restock_flag(value: object) -> bool:
    if value is None:
        return False
    if not isinstance(value, bool):
        raise BadRequest('"restock" must be true or false.')
    return value
