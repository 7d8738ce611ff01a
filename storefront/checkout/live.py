"""An order placed on one device, told to every other open page of the shopper: the cart pages
drop the ordered lines and say which order took them; an open checkout says the cart was
ordered instead of offering to pay again."""

from __future__ import annotations

from flask import render_template
from markupsafe import Markup

from storefront import realtime
from storefront.cart.announce import Announcement, announce
from storefront.cart.types import Owner
from storefront.checkout.placing import Placed


def announce_order(owner: Owner, placed: Placed, *, origin: str) -> Announcement | None:
    order = placed.order
    notice = Markup(render_template("orders/_placed_elsewhere.html", order=order))
    ordered = render_template("checkout/_ordered_elsewhere.html", order=order)
    # A shared cart: the other account's open checkout is told too, not only this shopper's.
    audience = placed.change.audience(owner) if placed.change is not None else (owner.channel,)
    for channel in audience:
        realtime.publish(channel, ordered)
    if placed.change is None:
        return None
    return announce(owner, placed.change, origin=origin, seen=None, elsewhere=notice)
