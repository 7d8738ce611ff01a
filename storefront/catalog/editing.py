"""Staff changing the catalog: create, update, retire and restore a product, adjust its stock,
import a CSV. Each is one transaction holding the change and its audit entry; after the commit
the open pages are told (``changes.announce``).

The ``clean_*`` functions are pure: they turn what staff typed (a form's text, or a JSON
value) into column values, or raise ``FieldError`` saying why not.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from storefront import money
from storefront.accounts.models import User
from storefront.admin import audit
from storefront.catalog import changes
from storefront.catalog.models import Product
from storefront.catalog.options import OptionSpecError, parse_notation, specs_to_json, to_notation
from storefront.catalog.services import (
    MAX_PRICE_CENTS,
    MAX_STOCK,
    SKU,
    ImportReport,
    by_skus,
    import_csv,
)
from storefront.database import begin_write
from storefront.errors import InvalidProduct, InvalidStock, NotFound, SkuTaken
from storefront.extensions import db
from storefront.orders import stock as ledger

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


# --- pure validation ---------------------------------------------------------------------------


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


# --- the changes -------------------------------------------------------------------------------


def _locked(sku: str) -> Product:
    """Inside a write transaction: the product, its row locked and freshly read."""
    product = None
    if isinstance(sku, str) and SKU.match(sku):
        product = db.session.scalar(
            select(Product)
            .where(Product.sku == sku)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    if product is None:
        raise NotFound(f"There is no product with the SKU {str(sku)[:64]!r}.")
    return product


def _set_columns(product: Product, values: Mapping[str, object]) -> None:
    for column, value in values.items():
        setattr(product, column, value)
    # option_specs is cached from options_json
    product.__dict__.pop("option_specs", None)


def _without_stock(fields: dict[str, object]) -> dict[str, object]:
    return {k: v for k, v in fields.items() if k != "stock"}


def _finish(product: Product, before: changes.ProductFacts | None) -> Product:
    """Commit, then tell the open pages what changed."""
    try:
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    changes.announce(before, changes.snapshot(product))
    return product


def create(
    staff: User, values: Mapping[str, object], currency: str, initial_stock: int = 0
) -> Product:
    """A new product from cleaned column values (``clean``), with its opening stock."""
    missing = {"sku": "SKU", "name": "Name", "price_cents": "Price"}
    absent = {f: f"{label} is required." for f, label in missing.items() if f not in values}
    if absent:
        raise invalid({"price" if f == "price_cents" else f: m for f, m in absent.items()})
    begin_write()
    try:
        if db.session.scalar(select(Product.id).where(Product.sku == values["sku"])):
            raise SkuTaken(f"The SKU {values['sku']} is already in use.", fields=["sku"])
        product = Product(**{"active": True, "description": "", **values, "stock": initial_stock})
        db.session.add(product)
        db.session.flush()
        ledger.adjust(product.id, initial_stock, "opening")
        audit.record(staff, "product.create", product.sku, None, fields_of(product, currency))
        db.session.commit()
    except IntegrityError:
        # Two staff creating the same SKU at once: the unique index decides.
        db.session.rollback()
        raise SkuTaken(f"The SKU {values['sku']} is already in use.", fields=["sku"]) from None
    except BaseException:
        db.session.rollback()
        raise
    changes.announce(None, changes.snapshot(product))
    return product


def update(
    staff: User,
    sku: str,
    values: Mapping[str, object],
    currency: str,
    stock: StockChange | None = None,
) -> Product:
    """Change a product's fields (cleaned column values) and, if given, its stock: all or
    nothing."""
    begin_write()
    try:
        product = _locked(sku)
        facts = changes.snapshot(product)
        before = fields_of(product, currency)
        _set_columns(product, {k: v for k, v in values.items() if k != "sku"})
        old, new = audit.changed(
            _without_stock(before), _without_stock(fields_of(product, currency))
        )
        if old or new:
            action = "product.update"
            if set(new) == {"active"}:
                action = "product.restore" if new["active"] else "product.retire"
            audit.record(staff, action, product.sku, old, new)
        if stock is not None:
            _adjust(staff, product, stock)
        if not (old or new or stock is not None):
            db.session.rollback()
            return product
    except BaseException:
        db.session.rollback()
        raise
    return _finish(product, facts)


def set_active(staff: User, sku: str, active: bool, currency: str) -> Product:
    """Retire (``active=False``) or bring back a product; doing it twice changes nothing."""
    return update(staff, sku, {"active": active}, currency)


def adjust_stock(staff: User, sku: str, change: StockChange) -> Product:
    begin_write()
    try:
        product = _locked(sku)
        facts = changes.snapshot(product)
        _adjust(staff, product, change)
    except BaseException:
        db.session.rollback()
        raise
    return _finish(product, facts)


def _adjust(staff: User, product: Product, change: StockChange) -> None:
    """Through the ledger (reason kind ``staff``); the staff's own words go to the audit log,
    since the ledger's ``reason`` is a short kind, not free text."""
    old = product.stock
    new = change.new_level(old, product.name)
    if new == old:
        return
    product.stock = new
    ledger.adjust(product.id, new - old, "staff")
    audit.record(
        staff, "product.stock", product.sku, {"stock": old}, {"stock": new, "reason": change.reason}
    )


# --- CSV import --------------------------------------------------------------------------------


class ImportRefused(InvalidProduct):
    """The file as a whole cannot be read (not UTF-8, not CSV); nothing was imported."""


def import_text(staff: User, text: str, currency: str) -> ImportReport:
    """``import_csv`` (the CLI's import, its line-by-line report) from the browser, with an
    audit entry per product it created or changed, then the open pages told of each."""
    begin_write()
    try:
        skus = _skus_in(text)
        found = by_skus(skus)
        before = {sku: (fields_of(p, currency), changes.snapshot(p)) for sku, p in found.items()}
        report = import_csv(io.StringIO(text, newline=""), commit=False)
        after = by_skus(skus)
        told = []
        for sku, product in sorted(after.items()):
            product.__dict__.pop("option_specs", None)
            now = fields_of(product, currency)
            if sku not in before:
                audit.record(staff, "product.import", sku, None, now)
                told.append((None, product))
                continue
            old_fields, facts = before[sku]
            old, new = audit.changed(old_fields, now)
            if old or new:
                audit.record(staff, "product.import", sku, old, new)
                told.append((facts, product))
        db.session.commit()
    except csv.Error as exc:
        db.session.rollback()
        raise ImportRefused(f"The file could not be read as CSV: {exc}.") from None
    except BaseException:
        db.session.rollback()
        raise
    for facts, product in told:
        changes.announce(facts, changes.snapshot(product))
    return report


def _skus_in(text: str) -> set[str]:
    reader = csv.DictReader(io.StringIO(text, newline=""))
    if not reader.fieldnames:
        return set()
    reader.fieldnames = [c.strip().lower() for c in reader.fieldnames]
    return {(row.get("sku") or "").strip() for row in reader if isinstance(row.get("sku"), str)}
