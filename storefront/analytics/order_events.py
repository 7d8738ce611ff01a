"""The commerce events of orders and payments, each called inside the transaction that makes
the change it records (the order's creation, its payment, cancellation or refund)."""

from __future__ import annotations

from collections.abc import Iterable

from storefront.analytics import events
from storefront.analytics.kinds import DeviceKind, EventKind
from storefront.cart import store
from storefront.cart.types import Owner
from storefront.orders.models import Order


def channel_of(user_id: int | None, cart_id: int | None) -> str | None:
    """The shopper an order belongs to, as their cart's events name them: the account, or the
    guest whose cart it was (None when that cart is gone or expired)."""
    if user_id is not None:
        return Owner.user(user_id).channel
    return store.guest_channel(cart_id)


def _order_channel(order: Order) -> str:
    # A guest whose cart is gone is still one shopper: this order's.
    return channel_of(order.user_id, order.cart_id) or f"order:{order.number}"


def placed(order: Order, lines: Iterable[tuple[str, int]], cart_units: int | None) -> None:
    """An order was created: ``lines`` are its (sku, units); ``cart_units`` what its cart
    still holds after the order took them (None: the order took nothing from a cart)."""
    channel = _order_channel(order)
    at = order.placed_at
    events.record(
        EventKind.ORDER_PLACED,
        channel,
        at=at,
        order_number=order.number,
        amount_cents=order.total,
        cart_units=cart_units,
    )
    for sku, quantity in lines:
        events.record(
            EventKind.LINE_ORDERED,
            channel,
            at=at,
            sku=sku,
            quantity=quantity,
            order_number=order.number,
        )
    if order.status == "paid":
        paid(order, DeviceKind.UNKNOWN)


def paid(order: Order, device: DeviceKind) -> None:
    events.record(
        EventKind.ORDER_PAID,
        _order_channel(order),
        device=device,
        at=order.paid_at,
        order_number=order.number,
        amount_cents=order.total,
    )


def cancelled(order: Order, device: DeviceKind, refunded: int = 0) -> None:
    """Cancelled; a paid order cancelled by staff is refunded too (``refunded`` minor units)."""
    channel = _order_channel(order)
    events.record(EventKind.ORDER_CANCELLED, channel, device=device, order_number=order.number)
    if refunded:
        events.record(
            EventKind.ORDER_REFUNDED,
            channel,
            device=device,
            order_number=order.number,
            amount_cents=refunded,
        )


def refunded(order: Order, amount: int, device: DeviceKind) -> None:
    events.record(
        EventKind.ORDER_REFUNDED,
        _order_channel(order),
        device=device,
        order_number=order.number,
        amount_cents=amount,
    )


def payment_failed(channel: str) -> None:
    """A payment declined, or the provider could not be reached: no order was made."""
    events.record(EventKind.PAYMENT_FAILED, channel)
