"""The cart's pages and htmx fragments: parse, call a service, render."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for

from storefront import shopper
from storefront.cart import forms, notices, services
from storefront.cart.services import Request
from storefront.cart.store import Change
from storefront.web import is_htmx, safe_next

bp = Blueprint("cart", __name__)


@bp.app_context_processor
def badge():
    # Lazy: only pages that show the badge pay for reading the cart.
    return {"cart_count": lambda: services.count(shopper.current_owner())}


def _request() -> Request:
    return Request(
        owner=shopper.current_owner(),
        device=shopper.device(),
        idempotency=forms.form_idempotency(),
    )


def _notice(change: Change) -> str:
    return notices.change_notice(change, services.names_for(notices.skus_named_by(change)))


@bp.get("/cart")
def page():
    cart = services.view(shopper.current_owner())
    return render_template("cart/page.html", cart=cart)


@bp.post("/cart/lines")
def add():
    sku = request.form.get("sku", "")
    change = services.add_line(_request(), sku, forms.quantity(default="1"), forms.options())
    shopper.changed_cart()
    message = _notice(change)
    if is_htmx():
        cart = services.view_change(change)
        product = services.product(change.op.sku if change.op else sku)
        return render_template("cart/_added.html", cart=cart, product=product, message=message)
    flash(message)
    back = url_for("catalog.product", sku=sku) if services.product(sku) else url_for("cart.page")
    return redirect(safe_next(request.form.get("next"), back))


def _after_line_change(change: Change, line_id: str | None = None):
    """htmx: the changed row (gone if removed) plus the summary and badge out of band."""
    shopper.changed_cart()
    message = _notice(change)
    if not is_htmx():
        flash(message)
        return redirect(url_for("cart.page"))
    cart = services.view_change(change)
    line = next((ln for ln in cart.lines if ln.id == line_id), None)
    return render_template("cart/_changed.html", cart=cart, line=line, message=message)


@bp.post("/cart/lines/<line_id>")
def set_quantity(line_id: str):
    change = services.set_quantity(_request(), line_id, forms.quantity())
    return _after_line_change(change, line_id)


@bp.post("/cart/lines/<line_id>/remove")
def remove(line_id: str):
    return _after_line_change(services.remove_line(_request(), line_id), line_id)


@bp.post("/cart/clear")
def clear():
    return _after_line_change(services.clear(_request()))
