"""A staff change of an order reaches the shopper's open order page without a reload: the
status region, rendered once as an out-of-band swap, published on the channels the shopper's
pages listen on. Through the broker, so pages served by other instances hear it too."""

from __future__ import annotations

from flask import render_template
from sqlalchemy import select

from storefront import realtime
from storefront.cart.models import Cart
from storefront.cart.types import Owner
from storefront.extensions import db
from storefront.orders.models import Order
from storefront.orders.services import STATUS_WORDS


def channels(order: Order) -> list[str]:
    """The account's channel for an account's order; for a guest's, the channel of the guest
    session whose cart placed it (the same session the order page remembers it in)."""
    found = []
    if order.user_id is not None:
        found.append(Owner.user(order.user_id).channel)
    if order.cart_id is not None:
        guest_key = db.session.scalar(select(Cart.guest_key).where(Cart.id == order.cart_id))
        if guest_key is not None:
            found.append(Owner(guest_key=guest_key).channel)
    return found


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
