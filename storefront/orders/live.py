"""A staff change of an order reaches the shopper's open order page without a reload: the
status region, rendered once as an out-of-band swap, published on the channels the shopper's
pages listen on. Through the broker, so pages served by other instances hear it too."""

from __future__ import annotations

from flask import render_template

from storefront import realtime
from storefront.cart import store
from storefront.cart.types import Owner
from storefront.orders.models import Order
from storefront.orders.services import STATUS_WORDS


def channels(order: Order) -> list[str]:
    """The account's channel for an account's order; for a guest's, the channel of the guest
    session whose cart placed it (the same session the order page remembers it in)."""
    found = [Owner.user(order.user_id).channel] if order.user_id is not None else []
    guest = store.guest_channel(order.cart_id)
    return [*found, guest] if guest else found


def announce(order: Order) -> None:
    """Call after the commit."""
    html = render_template(
        "orders/_status.html",
        order=order,
        status_words=STATUS_WORDS.get(order.status, order.status),
        oob=True,
    )
    for channel in channels(order):
        realtime.publish(channel, html)
