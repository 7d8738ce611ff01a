"""Order pages for shoppers, and the payment provider's webhook."""

from __future__ import annotations

from flask import Blueprint, abort, redirect, render_template, request, url_for

from storefront import shopper
from storefront.cart import forms
from storefront.cart import services as cart_services
from storefront.checkout.providers.base import InvalidWebhook
from storefront.extensions import csrf
from storefront.orders import payments, placed_here
from storefront.orders import services as orders

bp = Blueprint("orders", __name__)


@bp.get("/orders")
def index():
    views = [orders.view(o) for o in placed_here.listed()]
    return render_template("orders/index.html", orders=views)


@bp.get("/orders/<number>")
def page(number: str):
    order = placed_here.visible(number)
    return render_template("orders/page.html", view=orders.view(order))


@bp.post("/orders/<number>/buy-again")
def buy_again(number: str):
    """The cart as it was just before this order: restore that revision."""
    order = placed_here.visible(number)
    owner = shopper.current_owner()
    req = cart_services.Request(
        owner=owner, device=shopper.device(), idempotency=forms.form_idempotency()
    )
    cart_services.restore(req, order.cart_version_before)
    shopper.changed_cart()
    return redirect(url_for("cart.page"), 303)


@bp.post("/payments/<provider>/webhook")
@csrf.exempt
def webhook(provider: str):
    try:
        outcome = payments.webhook(provider, request.get_data(), request.headers)
    except InvalidWebhook:
        abort(400)
    return {"received": True, "outcome": outcome}
