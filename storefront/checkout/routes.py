"""The checkout page: parse the form, call the checkout services, render. Works without
JavaScript (every button is a plain form submit); with htmx, changing a field re-prices the
page in place."""

from __future__ import annotations

import re

from flask import Blueprint, flash, redirect, render_template, request, url_for

from storefront import metrics, realtime, shopper
from storefront.cart import forms
from storefront.checkout import details as checkout_details
from storefront.checkout import live, placing, services
from storefront.checkout.details import ADDRESS_FIELDS
from storefront.checkout.providers import registry
from storefront.errorpages import STATUS
from storefront.errors import DomainError
from storefront.orders import payments, placed_here
from storefront.security import checkout_completions
from storefront.web import is_htmx

bp = Blueprint("checkout", __name__)
WHOLE = re.compile(r"^\d{1,18}$")


def _form_changes() -> dict[str, object]:
    """The detail fields the form carries (a field not sent keeps its value)."""
    form = request.form
    changes: dict[str, object] = {
        name: form[name] for name in ("email", "phone", "shipping_method", "coupon") if name in form
    }
    address = {name: form[name] for name in ADDRESS_FIELDS if name in form}
    if address:
        changes["address"] = address
    return changes


def _render(checkout, *, refused=None, error: str | None = None, status: int = 200):
    refused = refused or {}
    field_errors = {}
    for name, exc in refused.items():
        for field in exc.detail.get("fields") or [name]:
            field_errors[field] = exc.message
    for problem in checkout.problems:
        if problem.field:
            field_errors.setdefault(problem.field, problem.message)
    template = "checkout/_live.html" if is_htmx() else "checkout/page.html"
    return (
        render_template(
            template,
            checkout=checkout,
            countries=checkout_details.countries(),
            providers=list(registry.configured().values()),
            # Re-rendered after a refusal, the page keeps the payment method the shopper chose.
            chosen_provider=request.form.get("payment_provider", ""),
            field_errors=field_errors,
            error=error,
        ),
        status,
    )


@bp.get("/checkout")
def page():
    return _render(services.read(shopper.current_owner()))


@bp.post("/checkout/details")
def update_details():
    checkout, refused = services.update(shopper.current_owner(), _form_changes(), partial=True)
    if not refused and not is_htmx():
        return redirect(url_for("checkout.page"), 303)
    return _render(checkout, refused=refused, status=422 if refused else 200)


def _form_int(name: str) -> int | None:
    raw = request.form.get(name, "")
    return int(raw) if WHOLE.match(raw) else None


@bp.post("/checkout")
def place():
    owner = shopper.current_owner()
    checkout, refused = services.update(owner, _form_changes(), partial=True)
    if refused:
        return _render(
            checkout, refused=refused, error="Check the fields marked below.", status=422
        )
    key = forms.form_idempotency()
    try:
        placed = placing.earlier(owner, key)
        if placed is None:
            with checkout_completions:
                placed = placing.complete(
                    owner,
                    provider_name=request.form.get("payment_provider"),
                    token=request.form.get("payment_token") or None,
                    idempotency=key,
                    expected_version=_form_int("cart_version"),
                    expected_total=_form_int("expected_total"),
                )
    except DomainError as exc:
        metrics.refused(exc.code)
        fresh = services.read(owner)
        refused = {f: exc for f in exc.detail.get("fields", [])}
        return _render(fresh, refused=refused, error=exc.message, status=STATUS.get(exc.code, 400))
    placed_here.remember(placed.order.number)
    live.announce_order(owner, placed, origin=realtime.requesting_page())
    target = placed.redirect or url_for("orders.page", number=placed.order.number)
    if is_htmx():
        return "", 204, {"HX-Redirect": target}
    return redirect(target, 303)


@bp.get("/checkout/payment-cancelled")
def payment_cancelled():
    """Back from an abandoned payment page: that order is cancelled, its stock returned, and
    the cart is as it was before it."""
    outcome = payments.abandoned(shopper.current_owner(), request.args.get("attempt", ""))
    if outcome is not None:
        flash(f"Payment cancelled: order {outcome} is cancelled and your cart is back as it was.")
    return redirect(url_for("cart.page"), 303)
