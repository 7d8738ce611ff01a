"""Staff changing the catalog: create, update, retire and restore a product, adjust its stock,
import a CSV. Each is one transaction holding the change and its audit entry; after the commit
the open pages are told (``changes.announce``). What staff typed is checked before, by
``catalog/fields.py``.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from storefront.accounts.models import User
from storefront.admin import audit
from storefront.catalog import changes
from storefront.catalog.fields import StockChange, fields_of, invalid
from storefront.catalog.models import Product
from storefront.catalog.services import SKU, ImportReport, by_skus, import_csv
from storefront.database import begin_write
from storefront.errors import InvalidProduct, NotFound, SkuTaken
from storefront.extensions import db
from storefront.orders import stock as ledger

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
        restocked = stock is not None and _adjust(staff, product, stock)
        if not (old or new or restocked):
            db.session.rollback()  # nothing to write, nothing to tell
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
        if not _adjust(staff, product, change):
            db.session.rollback()  # already at that level
            return product
    except BaseException:
        db.session.rollback()
        raise
    return _finish(product, facts)


def _adjust(staff: User, product: Product, change: StockChange) -> bool:
    """Through the ledger (reason kind ``staff``); the staff's own words go to the audit log,
    since the ledger's ``reason`` is a short kind, not free text. False: nothing to change."""
    old = product.stock
    new = change.new_level(old, product.name)
    if new == old:
        return False
    product.stock = new
    ledger.adjust(product.id, new - old, "staff")
    audit.record(
        staff, "product.stock", product.sku, {"stock": old}, {"stock": new, "reason": change.reason}
    )
    return True


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
