"""The shop's shipping methods, tax rates and coupons, read from their tables as the pricing
pipeline's plain rules; and what makes a coupon usable now."""

from __future__ import annotations

import time
from datetime import datetime

from flask import current_app
from sqlalchemy import select

from storefront.checkout.models import Coupon, ShippingMethod, TaxRate
from storefront.checkout.pricing import CouponRule, ShippingRule, TaxRule
from storefront.extensions import db

MAX_COUPON_CODE = 32


def shipping_methods() -> list[ShippingRule]:
    rows = db.session.scalars(
        select(ShippingMethod)
        .where(ShippingMethod.active)
        .order_by(ShippingMethod.position, ShippingMethod.id)
    )
    return [
        ShippingRule(
            id=r.id,
            name=r.name,
            price=r.price,
            free_from=r.free_from,
            countries=r.country_set,
            needs_address=r.needs_address,
        )
        for r in rows
    ]


def tax_rules() -> list[TaxRule]:
    return [
        TaxRule(country=r.country, region=r.region, percent=r.percent, on_shipping=r.on_shipping)
        for r in db.session.scalars(select(TaxRate).where(TaxRate.active))
    ]


def normalise_code(code: str) -> str:
    return code.strip().upper()


def find_coupon(code: str) -> Coupon | None:
    code = normalise_code(code)
    if not code or len(code) > MAX_COUPON_CODE:
        return None
    return db.session.scalar(select(Coupon).where(Coupon.code == code))


def as_rule(coupon: Coupon) -> CouponRule:
    return CouponRule(
        code=coupon.code,
        kind=coupon.kind,
        percent=coupon.percent,
        amount=coupon.amount,
        min_subtotal=coupon.min_subtotal,
    )


def coupon_refusal(coupon: Coupon | None, subtotal: int, at: datetime) -> str | None:
    """Why this coupon cannot be used now, in words; None when it can."""
    if coupon is None or not coupon.active:
        return "That coupon code is not known."
    if coupon.starts_at is not None and at < coupon.starts_at:
        return "That coupon is not valid yet."
    if coupon.ends_at is not None and at >= coupon.ends_at:
        return "That coupon has expired."
    if coupon.usage_limit is not None and coupon.used >= coupon.usage_limit:
        return "That coupon has been used up."
    if subtotal < coupon.min_subtotal:
        return "That coupon needs a larger order."
    return None


# The cart page's estimate re-prices on every change a shopper makes or receives: it reads the
# rules from a copy at most this old rather than from the tables each time. The checkout itself
# always reads them fresh.
ESTIMATE_RULES_SECONDS = 5.0
_estimate_rules: dict = {}


def forget_estimate_rules() -> None:
    """After staff change a shipping method or tax rate: this process's next estimate reads
    the tables again. Other processes' copies age out within ESTIMATE_RULES_SECONDS."""
    _estimate_rules.clear()


def estimate_rules() -> tuple[ShippingRule | None, TaxRule | None]:
    """The first shipping method on offer and the every-country tax rate, cached briefly."""
    key = current_app.config["SQLALCHEMY_DATABASE_URI"]
    cached = _estimate_rules.get(key)
    if cached is None or time.monotonic() - cached[0] > ESTIMATE_RULES_SECONDS:
        methods = shipping_methods()
        tax = next((r for r in tax_rules() if r.country is None), None)
        cached = _estimate_rules[key] = (time.monotonic(), methods[0] if methods else None, tax)
    return cached[1], cached[2]
