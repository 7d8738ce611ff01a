"""Saved for later: the list, saving a cart line, moving a saved line back. Each move is a
cart change, announced like any other, and the saved list is pushed to the shopper's pages."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for

from storefront import realtime, shopper
from storefront.cart import forms, views
from storefront.cart.announce import announce
from storefront.cart.services import Request
from storefront.cart.types import Owner
from storefront.saved import services
from storefront.security import cart_changes
from storefront.web import is_htmx, safe_next

bp = Blueprint("saved", __name__)


def _request(owner: Owner) -> Request:
    return Request(owner=owner, device=shopper.device(), idempotency=forms.form_idempotency())


@bp.get("/saved")
def page():
    items = services.saved_list(shopper.current_owner())
    return render_template("saved/page.html", saved=items)


@bp.post("/cart/lines/<line_id>/save")
@cart_changes
def save(line_id: str):
    owner = shopper.current_owner()
    moved = services.save_line(_request(owner), line_id)
    return _after(owner, moved, "Saved {} for later.", "{} was saved for later on another device.")


@bp.post("/saved/<saved_id>/move-to-cart")
@cart_changes
def move_to_cart(saved_id: str):
    owner = shopper.current_owner()
    moved = services.move_to_cart(_request(owner), saved_id)
    return _after(
        owner,
        moved,
        "Moved {} back to the cart.",
        "{} was moved back to the cart on another device.",
    )


def _after(owner: Owner, moved: services.Moved, said: str, elsewhere: str):
    """After the commit: the cart's change is announced as usual (with words that say what
    happened), the saved list goes to the shopper's other pages, and this page gets both."""
    shopper.changed_cart()
    change = moved.change
    name = views.names_for({moved.sku}).get(moved.sku, moved.sku) if moved.sku else "It"
    news = announce(
        owner,
        change,
        origin=realtime.requesting_page(),
        seen=forms.shown_version(),
        elsewhere=elsewhere.format(name),
    )
    listing = render_template(
        "saved/_list.html", saved=services.saved_list(owner), oob=True, pushed=True
    )
    if not change.replayed:
        for channel in change.audience(owner):
            realtime.publish(channel, listing)
    message = said.format(name) if not change.replayed else news.message
    if not is_htmx():
        flash(message)
        return redirect(safe_next(request.form.get("next"), url_for("cart.page")))
    body = render_template("cart/_changed.html", fragment=news.fragment, message=message)
    return body + listing, {"X-Cart-Version": str(news.view.version)}
