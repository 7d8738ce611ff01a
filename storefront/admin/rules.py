"""/admin/coupons, /admin/shipping, /admin/tax: the shop's rules, listed with their usage,
created, edited and switched off or on. Each route parses, calls ``checkout/editing.py`` and
renders; a refused form comes back filled in as it was sent, with the reason, and 4xx."""

from __future__ import annotations

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user

from storefront import money
from storefront.admin.blueprints import bp
from storefront.checkout import editing
from storefront.checkout.details import countries
from storefront.checkout.setup import COUPON_KINDS
from storefront.clock import now
from storefront.errorpages import STATUS
from storefront.errors import DuplicateRule, InvalidRule, NotFound
from storefront.web import is_htmx

KIND_NAMES = {"percent": "Percent off", "fixed": "Amount off", "free_shipping": "Free shipping"}
REFUSED = (InvalidRule, DuplicateRule)


bp.add_app_template_filter(editing.percent_text, "percent")


def _switch_to() -> bool:
    """The switch buttons send active=1 (switch on) or active=0 (switch off); nothing else."""
    value = request.form.get("active", "")
    if value not in ("0", "1"):
        raise InvalidRule("Say whether to switch it on (active=1) or off (active=0).")
    return value == "1"


def _amount(minor: int | None) -> str:
    return "" if minor is None else money.to_decimal_text(minor, _currency())


def _currency() -> str:
    return current_app.config["CURRENCY"]


def _moment(value) -> str:
    return value.strftime("%Y-%m-%dT%H:%M") if value else ""


# --- coupons -----------------------------------------------------------------------------------


def _coupon_values(coupon) -> dict[str, str]:
    value = {
        "percent": editing.percent_text(coupon.percent),
        "fixed": _amount(coupon.amount),
    }.get(coupon.kind, "")
    return {
        "code": coupon.code,
        "kind": coupon.kind,
        "value": value,
        "min_subtotal": _amount(coupon.min_subtotal),
        "starts_at": _moment(coupon.starts_at),
        "ends_at": _moment(coupon.ends_at),
        "usage_limit": "" if coupon.usage_limit is None else str(coupon.usage_limit),
        "once_per_customer": "on" if coupon.once_per_customer else "",
    }


def _coupon_form(coupon=None, values=None, error=None, status=200):
    context = {"coupon": coupon, "kinds": COUPON_KINDS, "kind_names": KIND_NAMES}
    values = values if values is not None else (_coupon_values(coupon) if coupon else {})
    page = render_template("admin/rules/coupon_form.html", values=values, error=error, **context)
    return page, status


@bp.get("/coupons")
def coupons():
    return render_template(
        "admin/rules/coupons.html", rows=editing.coupons(), at=now(), kind_names=KIND_NAMES
    )


@bp.get("/coupons/new")
def coupons_new():
    return _coupon_form(values={"kind": "percent", "min_subtotal": "0"})


@bp.post("/coupons")
def coupons_create():
    try:
        terms = editing.coupon_form(request.form)
        coupon = editing.create_coupon(current_user, request.form.get("code", "")[:64], terms)
    except REFUSED as exc:
        return _coupon_form(values=request.form, error=exc.message, status=STATUS[exc.code])
    flash(f"Coupon {coupon.code} created.", "success")
    return redirect(url_for("admin.coupons"))


@bp.get("/coupons/<code>")
def coupons_edit(code: str):
    return _coupon_form(editing.coupon(code))


@bp.post("/coupons/<code>")
def coupons_update(code: str):
    coupon = editing.coupon(code)
    try:
        editing.update_coupon(current_user, coupon.code, editing.coupon_form(request.form))
    except REFUSED as exc:
        values = {**request.form, "code": coupon.code}
        return _coupon_form(coupon, values, exc.message, STATUS[exc.code])
    flash(f"Coupon {coupon.code} saved.", "success")
    return redirect(url_for("admin.coupons"))


@bp.post("/coupons/<code>/active")
def coupons_switch(code: str):
    coupon = editing.switch_coupon(current_user, code, _switch_to())
    if is_htmx():
        row = next(u for u in editing.coupons() if u.coupon.id == coupon.id)
        return render_template(
            "admin/rules/_coupon_row.html", row=row, at=now(), kind_names=KIND_NAMES
        )
    flash(f"Coupon {coupon.code} is {'on' if coupon.active else 'off'}.", "success")
    return redirect(url_for("admin.coupons"))


# --- shipping methods --------------------------------------------------------------------------


def _shipping_values(method) -> dict[str, str]:
    return {
        "id": method.id,
        "name": method.name,
        "price": _amount(method.price),
        "free_from": _amount(method.free_from),
        "countries": method.countries.replace(",", ", "),
        "needs_address": "on" if method.needs_address else "",
        "position": str(method.position),
    }


def _shipping_form(method=None, values=None, error=None, status=200):
    values = values if values is not None else (_shipping_values(method) if method else {})
    page = render_template(
        "admin/rules/shipping_form.html", method=method, values=values, error=error
    )
    return page, status


@bp.get("/shipping")
def shipping_methods():
    return render_template("admin/rules/shipping.html", rows=editing.shipping_methods())


@bp.get("/shipping/new")
def shipping_methods_new():
    return _shipping_form(values={"needs_address": "on", "price": "0.00"})


@bp.post("/shipping")
def shipping_methods_create():
    try:
        method = editing.create_shipping_method(current_user, editing.shipping_form(request.form))
    except REFUSED as exc:
        return _shipping_form(values=request.form, error=exc.message, status=STATUS[exc.code])
    flash(f"Shipping method {method.name} created.", "success")
    return redirect(url_for("admin.shipping_methods"))


@bp.get("/shipping/<method_id>")
def shipping_methods_edit(method_id: str):
    return _shipping_form(editing.shipping_method(method_id))


@bp.post("/shipping/<method_id>")
def shipping_methods_update(method_id: str):
    method = editing.shipping_method(method_id)
    try:
        row = editing.shipping_form(request.form)
        editing.update_shipping_method(current_user, method.id, row)
    except REFUSED as exc:
        values = {**request.form, "id": method.id}
        return _shipping_form(method, values, exc.message, STATUS[exc.code])
    flash(f"Shipping method {method.name} saved.", "success")
    return redirect(url_for("admin.shipping_methods"))


@bp.post("/shipping/<method_id>/active")
def shipping_methods_switch(method_id: str):
    method = editing.switch_shipping_method(current_user, method_id, _switch_to())
    if is_htmx():
        usage = next(u for u in editing.shipping_methods() if u.method.id == method.id)
        return render_template("admin/rules/_shipping_row.html", row=usage)
    flash(f"Shipping method {method.name} is {'on' if method.active else 'off'}.", "success")
    return redirect(url_for("admin.shipping_methods"))


# --- tax rates ---------------------------------------------------------------------------------


def _rate_id(text: str) -> int:
    # A plain <rate_id>, not <int:...>: the guard must answer before the URL is judged.
    if not text.isascii() or not text.isdigit() or len(text) > 10:
        raise NotFound(f"There is no tax rate {text[:20]!r}.")
    return int(text)


def _tax_values(rate) -> dict[str, str]:
    return {
        "country": rate.country or "",
        "region": rate.region or "",
        "percent": editing.percent_text(rate.percent),
        "on_shipping": "on" if rate.on_shipping else "",
    }


def _tax_form(rate=None, values=None, error=None, status=200):
    values = values if values is not None else (_tax_values(rate) if rate else {})
    page = render_template(
        "admin/rules/tax_form.html", rate=rate, values=values, error=error, countries=countries()
    )
    return page, status


@bp.get("/tax")
def tax_rates():
    return render_template("admin/rules/tax.html", rates=editing.tax_rates(), countries=countries())


@bp.get("/tax/new")
def tax_rates_new():
    return _tax_form(values={"on_shipping": "on"})


@bp.post("/tax")
def tax_rates_create():
    try:
        rate = editing.create_tax_rate(current_user, editing.tax_form(request.form))
    except REFUSED as exc:
        return _tax_form(values=request.form, error=exc.message, status=STATUS[exc.code])
    flash(f"Tax rate for {editing.tax_subject(rate)} created.", "success")
    return redirect(url_for("admin.tax_rates"))


@bp.get("/tax/<rate_id>")
def tax_rates_edit(rate_id: str):
    return _tax_form(editing.tax_rate(_rate_id(rate_id)))


@bp.post("/tax/<rate_id>")
def tax_rates_update(rate_id: str):
    rate = editing.tax_rate(_rate_id(rate_id))
    try:
        editing.update_tax_rate(current_user, rate.id, editing.tax_form(request.form))
    except REFUSED as exc:
        return _tax_form(rate, request.form, exc.message, STATUS[exc.code])
    flash(f"Tax rate for {editing.tax_subject(rate)} saved.", "success")
    return redirect(url_for("admin.tax_rates"))


@bp.post("/tax/<rate_id>/active")
def tax_rates_switch(rate_id: str):
    rate = editing.switch_tax_rate(current_user, _rate_id(rate_id), _switch_to())
    if is_htmx():
        return render_template("admin/rules/_tax_row.html", rate=rate, countries=countries())
    state = "on" if rate.active else "off"
    flash(f"Tax rate for {editing.tax_subject(rate)} is {state}.", "success")
    return redirect(url_for("admin.tax_rates"))
