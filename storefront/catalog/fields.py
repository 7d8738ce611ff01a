"""What staff type for a product, checked: pure functions that turn a form's text or a JSON
value into column values, or raise ``FieldError`` saying why not, in words for the person who
typed it. No I/O; ``catalog/editing.py`` applies the result."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from storefront import money
from storefront.catalog.models import Product
from storefront.catalog.options import OptionSpecError, parse_notation, specs_to_json, to_notation
from storefront.catalog.services import MAX_PRICE_CENTS, MAX_STOCK, SKU
from storefront.errors import InvalidProduct, InvalidStock

MAX_NAME = 200  # products.name is String(200)
MAX_DESCRIPTION = 5000  # what a CSV import keeps of a description
MAX_META = 300  # products.meta_description is String(300)
MAX_REASON = 200
# "new" is the address of the creation form (/admin/products/new), so no product may take it.
RESERVED_SKUS = {"new"}
SIGNED_COUNT = re.compile(r"[+-]?[0-9]{1,10}", re.ASCII)
UNSIGNED_COUNT = re.compile(r"[0-9]{1,10}", re.ASCII)


class FieldError(ValueError):
    """One field's value does not fit; the message is for the person who typed it."""


def _text(value: object, label: str, limit: int, *, lines: bool = False) -> str:
    if not isinstance(value, str):
        raise FieldError(f"{label} must be text.")
    value = value.strip()
    if len(value) > limit:
        raise FieldError(f"{label} is at most {limit} characters, got {len(value)}.")
    plain = re.sub(r"[\r\n\t]", "", value) if lines else value
    # Control characters and lone surrogates (neither printable): nothing a person types, and
    # the database refuses them (a NUL on PostgreSQL, a surrogate as UTF-8 anywhere).
    if not plain.isprintable():
        raise FieldError(f"{label} contains a character that is not allowed.")
    return value


def clean_sku(value: object) -> str:
    if not isinstance(value, str) or not SKU.fullmatch(value.strip()):
        raise FieldError("SKU must be 1 to 64 letters, digits, '.', '_' or '-'.")
    value = value.strip()
    if value.lower() in RESERVED_SKUS:
        raise FieldError(f"The SKU {value!r} is reserved by the back office; choose another.")
    return value


def clean_name(value: object) -> str:
    name = _text(value, "Name", MAX_NAME)
    if not name:
        raise FieldError("Name is required.")
    return name


def clean_description(value: object) -> str:
    # A textarea posts CRLF; stored as LF, so saving an untouched form changes nothing.
    if isinstance(value, str):
        value = value.replace("\r\n", "\n").replace("\r", "\n")
    return _text(value, "Description", MAX_DESCRIPTION, lines=True)


def clean_meta_description(value: object) -> str:
    return _text(value, "Meta description", MAX_META)


def clean_price(value: object, currency: str) -> int:
    """A decimal string ("12.50") in minor units, at most what ``products.price_cents`` holds."""
    if not isinstance(value, str):
        raise FieldError('Price must be text such as "12.50".')
    try:
        cents = money.parse_amount(value, currency)
    except ValueError as exc:
        raise FieldError(f"Price: {exc}.") from None
    if cents > MAX_PRICE_CENTS:
        raise FieldError(f"Price is at most {money.to_decimal_text(MAX_PRICE_CENTS, currency)}.")
    return cents


def clean_options(value: object) -> str:
    """The CSV ``options`` notation, read by the same parser as an import."""
    if not isinstance(value, str):
        raise FieldError("Options must be text in the CSV notation, such as size:S|M|L!.")
    if len(value) > 5000:
        raise FieldError("Options are at most 5000 characters.")
    try:
        return specs_to_json(parse_notation(value))
    except OptionSpecError as exc:
        raise FieldError(f"Options: {exc}.") from None


def clean_active(value: object) -> bool:
    if not isinstance(value, bool):
        raise FieldError("Active must be true or false.")
    return value


def whole_number(value: object, *, signed: bool = False) -> object:
    """A form's digits ("12", "+3", "-3" when ``signed``) as an int; anything else unchanged,
    for the cleaner to refuse."""
    pattern = SIGNED_COUNT if signed else UNSIGNED_COUNT
    if isinstance(value, str) and pattern.fullmatch(value.strip()):
        return int(value.strip())
    return value


def clean_stock_level(value: object) -> int:
    """A stock level: an int (not a bool, not text) from 0 to MAX_STOCK."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_STOCK:
        raise FieldError(f"Stock must be a whole number from 0 to {MAX_STOCK:,}.")
    return value


def clean_delta(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or abs(value) > MAX_STOCK:
        raise FieldError(
            f"The change must be a whole number such as +12 or -3, at most {MAX_STOCK:,}."
        )
    if value == 0:
        raise FieldError("The change is zero: nothing to adjust.")
    return value


def clean_reason(value: object) -> str:
    reason = _text(value, "Reason", MAX_REASON)
    if not reason:
        raise FieldError("A reason is required for every stock change.")
    return reason


def _cleaners(currency: str) -> dict:
    return {
        "sku": ("sku", clean_sku),
        "name": ("name", clean_name),
        "description": ("description", clean_description),
        "price": ("price_cents", lambda v: clean_price(v, currency)),
        "options": ("options_json", clean_options),
        "meta_description": ("meta_description", clean_meta_description),
        "active": ("active", clean_active),
    }


def clean(given: Mapping[str, object], currency: str) -> dict[str, object]:
    """Column values for the fields given (by their form/JSON names), or InvalidProduct naming
    every field that does not fit."""
    cleaners = _cleaners(currency)
    values, errors = {}, {}
    for field, value in given.items():
        column, cleaner = cleaners[field]
        try:
            values[column] = cleaner(value)
        except FieldError as exc:
            errors[field] = str(exc)
    if errors:
        raise invalid(errors)
    return values


def invalid(errors: dict[str, str]) -> InvalidProduct:
    return InvalidProduct(" ".join(errors.values()), fields=sorted(errors), errors=errors)


@dataclass(frozen=True)
class StockChange:
    """Either a signed ``delta`` or a new ``level``, always with the staff's reason."""

    reason: str
    delta: int | None = None
    level: int | None = None

    def new_level(self, current: int, name: str) -> int:
        level = self.level if self.level is not None else current + (self.delta or 0)
        if level < 0:
            raise InvalidStock(
                f"Stock cannot go below zero: {name} has {current}, the change takes "
                f"{-(self.delta or 0)}.",
                fields=["delta"],
            )
        if level > MAX_STOCK:
            raise InvalidStock(f"Stock is at most {MAX_STOCK:,}.", fields=["delta"])
        return level


def stock_change(delta: object, level: object, reason: object) -> StockChange:
    """From the stock form: exactly one of ``delta`` and ``level`` (blank means not given)."""
    errors = {}
    blank = {None, ""}
    given_delta = delta not in blank and not (isinstance(delta, str) and not delta.strip())
    given_level = level not in blank and not (isinstance(level, str) and not level.strip())
    if given_delta == given_level:
        errors["delta"] = "Give either a change (such as +12 or -3) or a new level, not both."
    try:
        reason = clean_reason(reason)
    except FieldError as exc:
        errors["reason"] = str(exc)
    cleaned_delta = cleaned_level = None
    try:
        if given_delta and not given_level:
            cleaned_delta = clean_delta(whole_number(delta, signed=True))
        elif given_level and not given_delta:
            cleaned_level = clean_stock_level(whole_number(level))
    except FieldError as exc:
        errors["delta" if given_delta else "level"] = str(exc)
    if errors:
        raise InvalidStock(" ".join(errors.values()), fields=sorted(errors), errors=errors)
    return StockChange(reason=reason, delta=cleaned_delta, level=cleaned_level)


def stock_level(level: object, reason: object) -> StockChange:
    """From the JSON API: a new level (an int, never text or a bool), with its reason."""
    errors = {}
    try:
        level = clean_stock_level(level)
    except FieldError as exc:
        errors["stock"] = str(exc)
    try:
        reason = clean_reason(reason)
    except FieldError as exc:
        errors["stock_reason"] = str(exc)
    if errors:
        raise invalid(errors)
    return StockChange(reason=reason, level=level)


def fields_of(product: Product, currency: str) -> dict[str, object]:
    """A product as staff read it (the audit log, the JSON API): price as a decimal string,
    options in the CSV notation."""
    return {
        "sku": product.sku,
        "name": product.name,
        "description": product.description or "",
        "price": money.to_decimal_text(product.price_cents, currency),
        "stock": product.stock,
        "active": product.active,
        "options": to_notation(product.option_specs),
        "meta_description": product.meta_description or "",
    }
