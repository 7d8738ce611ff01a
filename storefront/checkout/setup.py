"""Putting shipping methods, tax rates and coupons into a shop: the demo's, or the owner's from
CSV files (``storefront import-shipping``, ``import-tax``; ``coupons create``). Each row is
checked and refused with the line and the reason, as the product import does."""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation

from flask import current_app
from sqlalchemy import select

from storefront import money
from storefront.checkout.details import countries
from storefront.checkout.models import Coupon, ShippingMethod, TaxRate
from storefront.extensions import db

SHIPPING_COLUMNS = ("id", "name", "price", "free_from", "countries", "needs_address")
TAX_COLUMNS = ("country", "region", "percent", "on_shipping")
COUPON_KINDS = ("percent", "fixed", "free_shipping")


class RowError(ValueError):
    pass


class DuplicateError(RowError):
    """The row names something that exists already (a coupon code)."""


@dataclass
class Report:
    created: int = 0
    updated: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)


def _currency() -> str:
    return current_app.config["CURRENCY"]


# Shipping prices, thresholds and coupon amounts are INTEGER columns: on PostgreSQL a larger
# value fails the whole statement, so it is refused here with the rest of the row's problems.
MAX_RULE_AMOUNT = 2**31 - 1
MAX_USAGE_LIMIT = 1_000_000_000


def _amount(text: str, label: str) -> int:
    try:
        amount = money.parse_amount(text, _currency())
    except ValueError as exc:
        raise RowError(f"{label}: {exc}") from None
    if amount > MAX_RULE_AMOUNT:
        most = money.to_decimal_text(MAX_RULE_AMOUNT, _currency())
        raise RowError(f"{label}: the amount is too large (at most {most})")
    return amount


def _flag(text: str, label: str, default: bool) -> bool:
    text = (text or "").strip().lower()
    if not text:
        return default
    if text in ("true", "yes", "1"):
        return True
    if text in ("false", "no", "0"):
        return False
    raise RowError(f"{label} must be true or false, not {text!r}")


def _countries(text: str) -> str:
    codes = [c.strip().upper() for c in (text or "").replace(";", ",").split(",") if c.strip()]
    unknown = [c for c in codes if c not in countries()]
    if unknown:
        raise RowError(f"unknown country code(s): {', '.join(unknown)}")
    return ",".join(codes)


def _percent(text: str) -> Decimal:
    try:
        value = Decimal((text or "").strip())
    except InvalidOperation:
        raise RowError(f"percent {text!r} is not a number") from None
    if not value.is_finite() or not 0 <= value <= 100 or value != value.quantize(Decimal("0.0001")):
        raise RowError("percent must be from 0 to 100 with at most four decimals")
    return value


def shipping_row(row: dict) -> dict:
    method_id = (row.get("id") or "").strip().lower()
    if not method_id or len(method_id) > 32 or not method_id.replace("-", "").isalnum():
        raise RowError("id must be 1 to 32 letters, digits or dashes")
    name = (row.get("name") or "").strip()
    if not name or len(name) > 100:
        raise RowError("name must be 1 to 100 characters")
    free_from = (row.get("free_from") or "").strip()
    return {
        "id": method_id,
        "name": name,
        "price": _amount(row.get("price") or "", "price"),
        "free_from": _amount(free_from, "free_from") if free_from else None,
        "countries": _countries(row.get("countries") or ""),
        "needs_address": _flag(row.get("needs_address"), "needs_address", True),
    }


def tax_row(row: dict) -> dict:
    country = (row.get("country") or "").strip().upper() or None
    if country is not None and country not in countries():
        raise RowError(f"unknown country code {country!r} (leave it empty for every country)")
    region = (row.get("region") or "").strip() or None
    if region is not None and country is None:
        raise RowError("a region needs a country")
    return {
        "country": country,
        "region": region,
        "percent": _percent(row.get("percent") or ""),
        "on_shipping": _flag(row.get("on_shipping"), "on_shipping", True),
    }


def _import(lines: Iterable[str], columns, parse, save) -> Report:
    report = Report()
    reader = csv.DictReader(lines)
    missing = [c for c in columns[:3] if c not in (reader.fieldnames or ())]
    if missing:
        report.errors.append((1, f"missing column(s): {', '.join(missing)}"))
        return report
    rows = []
    for row in reader:
        try:
            rows.append(parse(row))
        except RowError as exc:
            report.errors.append((reader.line_num, str(exc)))
    if not report.errors:  # all or nothing: a half-imported price list is worse than none
        for values in rows:
            save(values, report)
        db.session.commit()
    return report


def _save_shipping(values: dict, report: Report) -> None:
    method = db.session.get(ShippingMethod, values["id"])
    if method is None:
        position = db.session.query(ShippingMethod).count()
        db.session.add(ShippingMethod(**values, active=True, position=position))
        db.session.flush()
        report.created += 1
    else:
        for key, value in values.items():
            setattr(method, key, value)
        report.updated += 1


def _save_tax(values: dict, report: Report) -> None:
    rate = db.session.scalar(
        select(TaxRate).where(
            TaxRate.country.is_(None)
            if values["country"] is None
            else TaxRate.country == values["country"],
            TaxRate.region.is_(None)
            if values["region"] is None
            else TaxRate.region == values["region"],
        )
    )
    if rate is None:
        db.session.add(TaxRate(**values))
        db.session.flush()
        report.created += 1
    else:
        rate.percent, rate.on_shipping = values["percent"], values["on_shipping"]
        report.updated += 1


def import_shipping(lines: Iterable[str]) -> Report:
    return _import(lines, SHIPPING_COLUMNS, shipping_row, _save_shipping)


def import_tax(lines: Iterable[str]) -> Report:
    return _import(lines, TAX_COLUMNS, tax_row, _save_tax)


def coupon_terms(
    kind: str,
    *,
    value: str = "0",
    min_subtotal: str = "0",
    starts_at: datetime | None = None,
    ends_at: datetime | None = None,
    usage_limit: int | None = None,
    once_per_customer: bool = False,
) -> dict:
    """A coupon's columns but its code, checked: what creating one and editing one share."""
    if kind not in COUPON_KINDS:
        raise RowError(f"kind must be one of {', '.join(COUPON_KINDS)}")
    if usage_limit is not None and not 1 <= usage_limit <= MAX_USAGE_LIMIT:
        raise RowError(f"a usage limit is from 1 to {MAX_USAGE_LIMIT:,}")
    if starts_at and ends_at and ends_at <= starts_at:
        raise RowError("the end must come after the start")
    return {
        "kind": kind,
        "percent": _percent(value) if kind == "percent" else Decimal(0),
        "amount": _amount(value, "amount") if kind == "fixed" else 0,
        "min_subtotal": _amount(min_subtotal, "minimum"),
        "starts_at": starts_at,
        "ends_at": ends_at,
        "usage_limit": usage_limit,
        "once_per_customer": once_per_customer,
    }


def new_coupon(code: str, kind: str, **terms) -> Coupon:
    """A checked coupon added to the session, not committed: the caller's transaction (and its
    audit entry) decides."""
    code = code.strip().upper()
    if not code or len(code) > 32 or not code.replace("-", "").isalnum() or not code.isascii():
        raise RowError("a code is 1 to 32 letters, digits or dashes")
    values = coupon_terms(kind, **terms)
    if db.session.scalar(select(Coupon.id).where(Coupon.code == code)):
        raise DuplicateError(f"coupon {code} already exists")
    coupon = Coupon(code=code, **values, used=0, active=True)
    db.session.add(coupon)
    return coupon


def create_coupon(code: str, kind: str, **terms) -> Coupon:
    """``new_coupon``, committed (the CLI's ``coupons create`` and the demo)."""
    coupon = new_coupon(code, kind, **terms)
    db.session.commit()
    return coupon


def load_demo() -> None:
    """The contract's demo rules: `standard` 5.00 (free from 50.00), `pickup` 0.00, 10 % tax
    everywhere on products and shipping, coupon WELCOME10. Running it again changes nothing."""
    if db.session.get(ShippingMethod, "standard") is None:
        db.session.add(
            ShippingMethod(
                id="standard",
                name="Standard",
                price=money.parse_amount("5.00", _currency()),
                free_from=money.parse_amount("50.00", _currency()),
                countries="",
                needs_address=True,
                active=True,
                position=0,
            )
        )
    if db.session.get(ShippingMethod, "pickup") is None:
        db.session.add(
            ShippingMethod(
                id="pickup",
                name="Pick up in the shop",
                price=0,
                free_from=None,
                countries="",
                needs_address=False,
                active=True,
                position=1,
            )
        )
    if db.session.scalar(select(TaxRate.id).where(TaxRate.country.is_(None))) is None:
        db.session.add(TaxRate(country=None, region=None, percent=Decimal(10), on_shipping=True))
    db.session.commit()
    if db.session.scalar(select(Coupon.id).where(Coupon.code == "WELCOME10")) is None:
        create_coupon("WELCOME10", "percent", value="10")
