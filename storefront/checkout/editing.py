"""Staff edit the shop's coupons, shipping methods and tax rates (the back office's rules pages).

Forms are read by plain functions (``coupon_form``, ``shipping_form``, ``tax_form``); the values
are then checked by the same functions the CSV imports and ``coupons create`` use
(``checkout/setup.py``), so a value the command line refuses is refused here too, with the same
words. Each change is one transaction with its audit entry; a refused change writes nothing.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from flask import current_app
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from storefront import money
from storefront.accounts.models import User
from storefront.admin import audit
from storefront.checkout import rules, setup
from storefront.checkout.models import Coupon, CouponUse, PaymentAttempt, ShippingMethod, TaxRate
from storefront.errors import DuplicateRule, InvalidRule, NotFound
from storefront.extensions import db
from storefront.orders.models import Order

MAX_POSITION = 10_000
_WHOLE = re.compile(r"[0-9]{1,10}", re.ASCII)


# --- reading forms (pure) ---------------------------------------------------------------------


def _text(form: Mapping[str, str], name: str, limit: int) -> str:
    value = str(form.get(name) or "").strip()
    if len(value) > limit:
        raise InvalidRule(f"{name.replace('_', ' ')} is too long (at most {limit} characters)")
    return value


def _checked(form: Mapping[str, str], name: str) -> bool:
    return str(form.get(name) or "").strip().lower() in ("on", "true", "1", "yes")


def _whole(form: Mapping[str, str], name: str, label: str) -> int | None:
    text = _text(form, name, 32)
    if not text:
        return None
    if not _WHOLE.fullmatch(text):
        raise InvalidRule(f"{label} must be a whole number, not {text!r}")
    return int(text)


def _when(form: Mapping[str, str], name: str, label: str) -> datetime | None:
    """A date and time typed as the browser's datetime-local field sends it, read as UTC."""
    text = _text(form, name, 32)
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidRule(
            f"the {label} {text!r} is not a date and time (YYYY-MM-DD HH:MM)"
        ) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def coupon_form(form: Mapping[str, str]) -> dict:
    """The coupon's terms, as ``setup.coupon_terms`` takes them."""
    kind = _text(form, "kind", 16)
    value = _text(form, "value", 32)
    if kind in ("percent", "fixed") and not value:
        raise InvalidRule("a percent or fixed coupon needs a value")
    return {
        "kind": kind,
        "value": value or "0",
        "min_subtotal": _text(form, "min_subtotal", 32) or "0",
        "starts_at": _when(form, "starts_at", "start"),
        "ends_at": _when(form, "ends_at", "end"),
        "usage_limit": _whole(form, "usage_limit", "the usage limit"),
        "once_per_customer": _checked(form, "once_per_customer"),
    }


def shipping_form(form: Mapping[str, str]) -> dict:
    """A row as the shipping CSV has it (``setup.shipping_row`` checks it), and a position."""
    position = _whole(form, "position", "the position")
    if position is not None and position > MAX_POSITION:
        raise InvalidRule(f"the position is at most {MAX_POSITION}")
    return {
        "id": _text(form, "id", 32),
        "name": _text(form, "name", 100),
        "price": _text(form, "price", 32),
        "free_from": _text(form, "free_from", 32),
        "countries": _text(form, "countries", 1000),
        "needs_address": "true" if _checked(form, "needs_address") else "false",
        "position": position,
    }


def tax_form(form: Mapping[str, str]) -> dict:
    """A row as the tax CSV has it (``setup.tax_row`` checks it)."""
    return {
        "country": _text(form, "country", 2),
        "region": _text(form, "region", 64),
        "percent": _text(form, "percent", 32),
        "on_shipping": "true" if _checked(form, "on_shipping") else "false",
    }


def _checked_row(check, row: dict) -> dict:
    try:
        return check(row)
    except setup.DuplicateError as exc:
        raise DuplicateRule(_sentence(exc)) from None
    except setup.RowError as exc:
        raise InvalidRule(_sentence(exc)) from None


def _sentence(exc: Exception) -> str:
    text = str(exc)
    return text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")


# --- what the audit log shows ------------------------------------------------------------------


def _money(amount: int | None) -> str | None:
    return None if amount is None else money.to_decimal_text(amount, current_app.config["CURRENCY"])


def percent_text(value) -> str:
    """10.0000 → "10", 8.8750 → "8.875" (never "1E+1")."""
    return f"{value.normalize():f}"


def coupon_facts(coupon: Coupon) -> dict[str, object]:
    return {
        "kind": coupon.kind,
        "percent": percent_text(coupon.percent) if coupon.kind == "percent" else None,
        "amount": _money(coupon.amount) if coupon.kind == "fixed" else None,
        "min_subtotal": _money(coupon.min_subtotal),
        "starts_at": coupon.starts_at.isoformat() if coupon.starts_at else None,
        "ends_at": coupon.ends_at.isoformat() if coupon.ends_at else None,
        "usage_limit": coupon.usage_limit,
        "once_per_customer": coupon.once_per_customer,
        "active": coupon.active,
    }


def shipping_facts(method: ShippingMethod) -> dict[str, object]:
    return {
        "name": method.name,
        "price": _money(method.price),
        "free_from": _money(method.free_from),
        "countries": method.countries,
        "needs_address": method.needs_address,
        "position": method.position,
        "active": method.active,
    }


def tax_facts(rate: TaxRate) -> dict[str, object]:
    return {
        "country": rate.country,
        "region": rate.region,
        "percent": percent_text(rate.percent),
        "on_shipping": rate.on_shipping,
        "active": rate.active,
    }


def tax_subject(rate: TaxRate) -> str:
    place = "every country" if rate.country is None else rate.country
    return f"{place} {rate.region}" if rate.region else place


def _commit(staff: User, action: str, subject: str, before: dict, after: dict) -> None:
    """The change and its audit entry, together; a change that changed nothing is not logged."""
    if action.endswith(".create"):
        audit.record(staff, action, subject, {}, after)
    else:
        before, after = audit.changed(before, after)
        if after:
            audit.record(staff, action, subject, before, after)
    try:
        db.session.commit()
    except IntegrityError:  # another staff member saved the same code or place just now
        db.session.rollback()
        raise DuplicateRule(f"{subject} was saved by someone else just now: reload.") from None


# --- coupons -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class CouponUsage:
    coupon: Coupon
    in_checkout: int  # uses held by payments still being made

    def state(self, at: datetime) -> str:
        coupon = self.coupon
        if not coupon.active:
            return "Off"
        if coupon.ends_at is not None and at >= coupon.ends_at:
            return "Expired"
        if coupon.starts_at is not None and at < coupon.starts_at:
            return "Not yet valid"
        if coupon.usage_limit is not None and coupon.used >= coupon.usage_limit:
            return "Used up"
        return "On"


def coupons() -> list[CouponUsage]:
    held = dict(
        db.session.execute(
            select(CouponUse.coupon_id, func.count())
            .join(PaymentAttempt, PaymentAttempt.id == CouponUse.attempt_id)
            .where(PaymentAttempt.status == "open")
            .group_by(CouponUse.coupon_id)
        ).all()
    )
    return [
        CouponUsage(coupon, held.get(coupon.id, 0))
        for coupon in db.session.scalars(select(Coupon).order_by(Coupon.code))
    ]


def coupon(code: str) -> Coupon:
    found = rules.find_coupon(code)
    if found is None:
        raise NotFound(f"There is no coupon {code.strip().upper()[:32]!r}.")
    return found


def create_coupon(staff: User, code: str, terms: dict) -> Coupon:
    created = _checked_row(lambda t: setup.new_coupon(code, **t), terms)
    _commit(staff, "coupon.create", created.code, {}, coupon_facts(created))
    return created


def update_coupon(staff: User, code: str, terms: dict) -> Coupon:
    found = coupon(code)
    values = _checked_row(lambda t: setup.coupon_terms(**t), terms)
    if values["usage_limit"] is not None and values["usage_limit"] < found.used:
        raise InvalidRule(
            f"It has been used {found.used} times already: the usage limit cannot be lower."
        )
    before = coupon_facts(found)
    for name, value in values.items():
        setattr(found, name, value)
    _commit(staff, "coupon.update", found.code, before, coupon_facts(found))
    return found


def switch_coupon(staff: User, code: str, active: bool) -> Coupon:
    found = coupon(code)
    before = coupon_facts(found)
    found.active = active
    _commit(
        staff,
        "coupon.enable" if active else "coupon.disable",
        found.code,
        before,
        coupon_facts(found),
    )
    return found


# --- shipping methods --------------------------------------------------------------------------


@dataclass(frozen=True)
class ShippingUsage:
    method: ShippingMethod
    orders: int  # orders placed with it, whatever became of them


def shipping_methods() -> list[ShippingUsage]:
    used = dict(
        db.session.execute(
            select(Order.shipping_method, func.count()).group_by(Order.shipping_method)
        ).all()
    )
    methods = db.session.scalars(
        select(ShippingMethod).order_by(ShippingMethod.position, ShippingMethod.id)
    )
    return [ShippingUsage(method, used.get(method.id, 0)) for method in methods]


def shipping_method(method_id: str) -> ShippingMethod:
    found = db.session.get(ShippingMethod, method_id.strip().lower()[:32])
    if found is None:
        raise NotFound(f"There is no shipping method {method_id[:32]!r}.")
    return found


def create_shipping_method(staff: User, row: dict) -> ShippingMethod:
    values = _checked_row(setup.shipping_row, row)
    if db.session.get(ShippingMethod, values["id"]) is not None:
        raise DuplicateRule(f"A shipping method with the id {values['id']!r} exists already.")
    position = row.get("position")
    if position is None:
        position = db.session.scalar(select(func.count()).select_from(ShippingMethod)) or 0
    method = ShippingMethod(**values, active=True, position=position)
    db.session.add(method)
    _commit(staff, "shipping.create", method.id, {}, shipping_facts(method))
    rules.forget_estimate_rules()
    return method


def update_shipping_method(staff: User, method_id: str, row: dict) -> ShippingMethod:
    method = shipping_method(method_id)
    values = _checked_row(setup.shipping_row, {**row, "id": method.id})
    before = shipping_facts(method)
    for name, value in values.items():
        setattr(method, name, value)
    if row.get("position") is not None:
        method.position = row["position"]
    _commit(staff, "shipping.update", method.id, before, shipping_facts(method))
    rules.forget_estimate_rules()
    return method


def switch_shipping_method(staff: User, method_id: str, active: bool) -> ShippingMethod:
    method = shipping_method(method_id)
    before = shipping_facts(method)
    method.active = active
    action = "shipping.enable" if active else "shipping.disable"
    _commit(staff, action, method.id, before, shipping_facts(method))
    rules.forget_estimate_rules()
    return method


# --- tax rates ---------------------------------------------------------------------------------


def tax_rates() -> list[TaxRate]:
    rows = db.session.scalars(select(TaxRate))
    # Every country first, then by country and region: the order a reader looks for them.
    return sorted(rows, key=lambda r: (r.country is not None, r.country or "", r.region or ""))


def tax_rate(rate_id: int) -> TaxRate:
    found = db.session.get(TaxRate, rate_id) if 0 < rate_id < 2**31 else None
    if found is None:
        raise NotFound(f"There is no tax rate {rate_id}.")
    return found


def _refuse_same_place(values: dict, rate_id: int | None) -> None:
    # NULL never equals NULL in a unique constraint, so "every country" is checked here.
    country, region = values["country"], values["region"]
    query = select(TaxRate.id).where(
        TaxRate.country.is_(None) if country is None else TaxRate.country == country,
        TaxRate.region.is_(None) if region is None else TaxRate.region == region,
    )
    if rate_id is not None:
        query = query.where(TaxRate.id != rate_id)
    if db.session.scalar(query) is not None:
        raise DuplicateRule("A tax rate for that country and region exists already: edit that one.")


def create_tax_rate(staff: User, row: dict) -> TaxRate:
    values = _checked_row(setup.tax_row, row)
    _refuse_same_place(values, None)
    rate = TaxRate(**values, active=True)
    db.session.add(rate)
    _commit(staff, "tax.create", tax_subject(rate), {}, tax_facts(rate))
    rules.forget_estimate_rules()
    return rate


def update_tax_rate(staff: User, rate_id: int, row: dict) -> TaxRate:
    rate = tax_rate(rate_id)
    values = _checked_row(setup.tax_row, row)
    _refuse_same_place(values, rate.id)
    before = tax_facts(rate)
    for name, value in values.items():
        setattr(rate, name, value)
    _commit(staff, "tax.update", tax_subject(rate), before, tax_facts(rate))
    rules.forget_estimate_rules()
    return rate


def switch_tax_rate(staff: User, rate_id: int, active: bool) -> TaxRate:
    rate = tax_rate(rate_id)
    before = tax_facts(rate)
    rate.active = active
    _commit(
        staff, "tax.enable" if active else "tax.disable", tax_subject(rate), before, tax_facts(rate)
    )
    rules.forget_estimate_rules()
    return rate
