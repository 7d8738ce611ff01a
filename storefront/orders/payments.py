"""What a provider tells us after the order was placed: a webhook saying a redirect payment
was paid or abandoned, or the shopper coming back from an abandoned payment page. Each outcome
is applied once: the order's status moves only from ``pending``."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from sqlalchemy import select, update

from storefront import clock
from storefront.analytics import order_events
from storefront.analytics.kinds import DeviceKind
from storefront.cart import services as cart_services
from storefront.cart import store
from storefront.cart.types import Owner
from storefront.checkout.models import PaymentAttempt
from storefront.checkout.providers import registry
from storefront.checkout.providers.base import PaymentStatus, ProviderUnavailable
from storefront.database import write
from storefront.errors import NotFound
from storefront.extensions import db
from storefront.mail import orders as order_mail
from storefront.orders import services as orders
from storefront.orders.models import Order

log = logging.getLogger(__name__)


def _order_for_attempt(attempt_id: str) -> Order | None:
    if not attempt_id or len(attempt_id) > 32 or "\x00" in attempt_id:  # PostgreSQL refuses NUL
        return None
    return db.session.scalar(select(Order).where(Order.attempt_id == attempt_id))


def mark_paid(order: Order, reference: str | None = None) -> bool:
    """Inside a transaction: a pending order is paid (once)."""
    values = {"status": "paid", "payment_status": "captured", "paid_at": clock.now()}
    if reference:
        values["payment_reference"] = reference
    won = db.session.execute(
        update(Order).where(Order.id == order.id, Order.status == "pending").values(**values)
    ).rowcount
    if won:
        db.session.refresh(order)
        order_events.paid(order, DeviceKind.SERVER)
        order_mail.order_changed(order, "paid")
    return bool(won)


def webhook(provider_name: str, payload: bytes, headers: Mapping[str, str]) -> str:
    """Apply a verified webhook; raises InvalidWebhook. Returns what was done, for the log."""
    provider = registry.get(provider_name)
    if provider is None:
        raise NotFound("There is no such payment provider here.")
    event = provider.parse_webhook(payload, headers)
    order = _order_for_attempt(event.attempt_id or "")
    if order is None and event.status == PaymentStatus.CAPTURED:
        return _paid_without_order(provider, event)
    if event.status is None or order is None or order.provider != provider.name:
        return "ignored"  # not an event we act on, or another shop's session on the account
    if event.status == PaymentStatus.CAPTURED:
        if write(lambda: mark_paid(order)):
            return "paid"
        if order.status == "cancelled":
            # Paid after its hold ran out and its stock went back: the money goes back too.
            refund_late_payment(order, provider, event.reference)
            return "refunded: paid after the order was cancelled"
        return "already settled"
    if event.status == PaymentStatus.CANCELLED:
        done = write(lambda: orders.cancel(order))
        return "cancelled" if done else "already settled"
    return "ignored"


def _paid_without_order(provider, event) -> str:
    """Paid for an attempt that never became an order: it was cut off (a crash after Stripe's
    page was opened) and the clean-up job gave its stock back. No goods, so no money."""
    attempt = db.session.get(PaymentAttempt, (event.attempt_id or "")[:32])
    if attempt is None or attempt.provider != provider.name or attempt.status == "open":
        return "ignored"  # another shop's session, or the attempt is still being settled
    snap = orders.open_snapshot(attempt)
    try:
        provider.refund(
            event.reference or "", snap["totals"]["total"], snap["currency"], f"late-{attempt.id}"
        )
    except ProviderUnavailable:
        log.error("attempt %s was paid but never ordered; refund it by hand", attempt.id)
        raise
    return "refunded: paid after the attempt was given up"


def refund_late_payment(order: Order, provider, reference: str | None) -> None:
    try:
        provider.refund(
            reference or order.payment_reference or "",
            order.total,
            order.currency,
            f"late-{order.attempt_id}",
        )
    except ProviderUnavailable:
        log.error("order %s was paid after it was cancelled; refund it by hand", order.number)
        return
    write(
        lambda: db.session.execute(
            update(Order).where(Order.id == order.id).values(payment_status="refunded")
        )
    )


def settle_overdue(order: Order) -> bool:
    """A pending order past its hold: paid after all (a webhook lost on the way), or cancelled
    with its stock given back. False when its provider cannot be asked now (next run)."""
    provider = registry.get(order.provider)
    if provider is not None and order.provider != "manual":
        try:
            outcome = provider.confirm(order.attempt_id, order.payment_reference)
        except ProviderUnavailable:
            return False
        if outcome.status == PaymentStatus.CAPTURED:
            return write(lambda: mark_paid(order))
    return write(lambda: orders.cancel(order))


def abandoned(owner: Owner, attempt_id: str) -> int | None:
    """The shopper left the payment page: cancel the order and give the cart back as it was
    before the order took its lines. Only the shopper whose cart it was can do this."""
    order = _order_for_attempt(attempt_id)
    snap = store.read(owner)
    if order is None or order.status != "pending" or order.cart_id != snap.cart_id:
        return None
    provider = registry.get(order.provider)
    if provider is not None and provider.name != "manual":
        # It may have been paid a moment ago: ask before cancelling (and if the provider cannot
        # say now, leave the order to its webhook or the end of its hold).
        try:
            outcome = provider.confirm(order.attempt_id, order.payment_reference)
        except ProviderUnavailable:
            return None
        if outcome.status == PaymentStatus.CAPTURED:
            write(lambda: mark_paid(order))
            return None
    if not write(lambda: orders.cancel(order, device=DeviceKind.UNKNOWN)):
        return None
    cart_services.restore(cart_services.Request(owner=owner), order.cart_version_before)
    return order.number
