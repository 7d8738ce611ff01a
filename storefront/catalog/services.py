"""Catalog use cases: browse, look up, import a CSV, load the demo catalog."""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Collection, Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from functools import cache
from typing import NamedTuple

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    String,
    bindparam,
    cast,
    func,
    literal_column,
    or_,
    select,
)
from sqlalchemy.dialects.postgresql import ARRAY

from storefront.catalog.models import Product
from storefront.catalog.options import (
    OptionSpec,
    OptionSpecError,
    parse_notation,
    specs_from_json,
    specs_to_json,
)
from storefront.database import dialect_name
from storefront.extensions import db
from storefront.prepared import Prepared

PAGE_SIZE = 24
# What a spreadsheet runs as a formula at the start of a cell: the CSV export quotes such cells
# (catalog/listing.py) and the import takes the quote off again.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
SKU = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
MAX_PRICE_CENTS = 2**31 - 1  # what products.price_cents holds on PostgreSQL (an integer)
MAX_STOCK = 1_000_000_000


@dataclass(frozen=True)
class Page:
    products: list[Product]
    number: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // PAGE_SIZE))


def search(query: str = "", page: int = 1) -> Page:
    stmt = select(Product).where(Product.active.is_(True))
    query = (query or "").strip()[:100]
    if query:
        escaped = query.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        pattern = f"%{escaped.lower()}%"
        stmt = stmt.where(
            or_(
                func.lower(Product.name).like(pattern, escape="\\"),
                func.lower(Product.sku).like(pattern, escape="\\"),
            )
        )
    total = db.session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    last = max(1, -(-total // PAGE_SIZE))
    page = min(max(1, page), last)
    rows = db.session.scalars(
        stmt.order_by(Product.sku).offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE)
    ).all()
    return Page(list(rows), page, total)


def by_sku(sku: str) -> Product | None:
    if not isinstance(sku, str) or not SKU.match(sku):
        return None
    return db.session.scalar(select(Product).where(Product.sku == sku))


def by_skus(skus: Iterable[str]) -> dict[str, Product]:
    wanted = sorted(set(skus))
    found: dict[str, Product] = {}
    for start in range(0, len(wanted), 900):
        chunk = wanted[start : start + 900]
        found.update(
            (p.sku, p) for p in db.session.scalars(select(Product).where(Product.sku.in_(chunk)))
        )
    return found


class ProductFacts(NamedTuple):
    """What a cart needs to know of a product, read without building ORM objects."""

    sku: str
    name: str
    price_cents: int
    stock: int
    active: bool


class ProductToAdd(NamedTuple):
    """What adding a product to a cart checks: its facts and the options it takes."""

    sku: str
    name: str
    price_cents: int
    stock: int
    active: bool
    option_specs: tuple[OptionSpec, ...]


@cache
def _statements(dialect: str):
    """The cart's catalog look-ups, built once per database kind: executing the same statement
    object again spares SQLAlchemy building it and computing its cache key, which cost more
    than the look-up itself on every change. Table columns, not the model's attributes: a
    statement of those takes the ORM's execution path, about twice as long."""
    c = Product.__table__.c
    facts = (c.sku, c.name, c.price_cents, c.stock, c.active)
    one = select(*facts, c.options_json).where(c.sku == bindparam("sku"))
    # One bound parameter however long the cart: a JSON array on SQLite, an array on
    # PostgreSQL. A 1,000-line cart is looked up on every change, and 1,000 placeholders cost
    # more than the lookup itself.
    if dialect == "sqlite":
        # Joined from the list, not "IN (SELECT ...)": SQLite then builds no temporary index of
        # the list (a fifth less time for 1,000 SKUs, measured).
        listed = func.json_each(bindparam("skus")).table_valued("value").alias("listed")
        many, many_to_add = (
            select(*columns).join_from(listed, Product.__table__, c.sku == listed.c.value)
            for columns in (facts, (*facts, c.options_json))
        )
    else:
        listed = c.sku == func.any(bindparam("skus", type_=ARRAY(String)))
        many, many_to_add = (
            select(*columns).where(listed) for columns in (facts, (*facts, c.options_json))
        )
    # Every cart change runs them: on the driver's cursor (storefront/prepared.py).
    return Prepared(one), Prepared(many), Prepared(many_to_add)


def _dialect() -> str:
    return dialect_name()


@cache
def _option_specs(options_json: str) -> tuple[OptionSpec, ...]:
    # Few distinct notations (most products take none); specs are immutable.
    return specs_from_json(options_json)


def rows_along() -> ColumnElement:
    """A column for a statement of another table (PostgreSQL): the rows of the products whose
    SKUs are bound to ``skus`` (each once), as one JSON array of ``[sku, name, price_cents,
    stock, active, options_json]`` with a null for a SKU that is no product. A cart change
    reads its cart row and the products its decision needs in one round trip: a round trip of
    its own cost the worker about a tenth of an add on PostgreSQL (issue 10). Hand the array
    to ``read_along``."""
    c = Product.__table__.c
    # One index probe per SKU, a null where there is no such product. ``sku = ANY(:skus)``
    # let the planner scan the whole table instead, its estimate for a catalog of a few
    # thousand rows: 0.22 ms a statement on the demo catalog against 0.06 ms, measured with
    # EXPLAIN ANALYZE, and the statement every cart change on PostgreSQL runs (issue 10).
    wanted = (
        func.unnest(bindparam("skus", type_=ARRAY(String)))
        .table_valued("sku")
        .render_derived(name="wanted")
    )
    listed = func.json_build_array(c.sku, c.name, c.price_cents, c.stock, c.active, c.options_json)
    found = select(listed).where(c.sku == wanted.c.sku).scalar_subquery()
    return select(func.json_agg(found)).select_from(wanted).scalar_subquery()


# The SKUs read along with a cart row, and the rows found of them (``read_along``).
_READ_ALONG: ContextVar[tuple[frozenset[str], dict[str, tuple]] | None] = ContextVar(
    "storefront_catalog_read_along", default=None
)


@contextmanager
def read_along(asked: Collection[str], rows: Iterable[Iterable] | None) -> Iterator[None]:
    """Inside, the look-ups of products among ``asked`` are answered from ``rows`` (what
    ``rows_along`` gave for them, in the same statement as the cart row the caller decides on)
    instead of the database; a SKU of ``asked`` not among them is known to be no product.
    Others are still looked up."""
    found = {row[0]: tuple(row) for row in rows or () if row is not None}
    token = _READ_ALONG.set((frozenset(asked), found))
    try:
        yield
    finally:
        _READ_ALONG.reset(token)


def _split_along(wanted: Iterable[str]) -> tuple[list[tuple], list[str]]:
    """The rows of ``wanted`` read along (``read_along``), and the SKUs still to look up."""
    along = _READ_ALONG.get()
    if along is None:
        return [], list(wanted)
    asked, found = along
    rows, missing = [], []
    for sku in wanted:
        if sku not in asked:
            missing.append(sku)
        elif sku in found:
            rows.append(found[sku])
    return rows, missing


def to_add(sku: str) -> ProductToAdd | None:
    """The product a shopper adds, or None if there is no such SKU."""
    if not isinstance(sku, str) or not SKU.match(sku):
        return None
    rows, missing = _split_along((sku,))
    row = _statements(_dialect())[0].first({"sku": sku}) if missing else next(iter(rows), None)
    if row is None:
        return None
    *facts, options_json = row
    return ProductToAdd(*facts, _option_specs(options_json))


def facts_for(skus: Iterable[str]) -> dict[str, ProductFacts]:
    return facts_of(fact_rows(skus))


def fact_rows(skus: Iterable[str]) -> list[tuple]:
    """The facts of these products as the database gave them (rows compare cheaply: whether
    anything changed since they were last read)."""
    return _rows_of(skus, 1)


def facts_of(rows: Iterable[tuple]) -> dict[str, ProductFacts]:
    return {row[0]: ProductFacts(*row) for row in rows}


def to_add_among(sku: str, others: Iterable[str]) -> tuple[ProductToAdd | None, dict]:
    """The product a shopper adds (None if there is no such SKU) and, in the same statement,
    the facts of ``others`` (the cart's other products, which describing the change needs):
    one round trip to the database instead of two."""
    found, facts = None, {}
    for *row, options_json in _rows_of([sku, *others], 2):
        facts[row[0]] = ProductFacts(*row)
        if row[0] == sku:
            found = ProductToAdd(*row, _option_specs(options_json))
    return found, facts


def _rows_of(skus: Iterable[str], statement: int) -> list[tuple]:
    rows, wanted = _split_along(sorted(set(skus)))
    if statement == 1:  # the facts only
        rows = [row[:5] for row in rows]
    if not wanted:
        return rows
    dialect = _dialect()
    listed = json.dumps(wanted) if dialect == "sqlite" else wanted
    # All rows at once: iterating a result fetches them one by one (a 1,000-line cart).
    return rows + _statements(dialect)[statement].all({"skus": listed})


@cache
def _subtotal_statement(dialect: str):
    c = Product.__table__.c
    if dialect == "sqlite":
        wanted = (
            select(
                literal_column("key").label("sku"),
                literal_column("value").label("quantity"),
            )
            .select_from(func.json_each(bindparam("quantities")))
            .subquery()
        )
    else:
        wanted = (
            select(
                func.unnest(bindparam("skus", type_=ARRAY(String))).label("sku"),
                func.unnest(bindparam("counts", type_=ARRAY(BigInteger))).label("quantity"),
            )
        ).subquery()
    return (
        # 64-bit arithmetic: a price in cents times a quantity outgrows PostgreSQL's integer.
        select(func.coalesce(func.sum(cast(c.price_cents, BigInteger) * wanted.c.quantity), 0))
        .join_from(wanted, Product.__table__, c.sku == wanted.c.sku)
        .where(c.active.is_(True), c.stock > 0)
    )


def subtotal_cents(quantities: Mapping[str, int]) -> int:
    """What these units of these SKUs cost at today's prices, counting only products that can
    be bought (active and in stock, as a cart line's ``available`` says): summed in the
    database, so a change to a 1,000-line cart does not bring 1,000 rows into Python."""
    if not quantities:
        return 0
    dialect = _dialect()
    if dialect == "sqlite":
        params = {"quantities": json.dumps(dict(quantities))}
    else:
        params = {"skus": list(quantities), "counts": list(quantities.values())}
    return int(db.session.execute(_subtotal_statement(dialect), params).scalar_one())


@dataclass
class ImportReport:
    created: int = 0
    updated: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)


REQUIRED_COLUMNS = ("sku", "name", "price", "stock")
TRUE = {"true", "1", "yes", "y"}
FALSE = {"false", "0", "no", "n"}


class RowError(ValueError):
    pass


def parse_row(row: dict[str, str | None]) -> dict:
    def cell(name: str) -> str:
        text = (row.get(name) or "").strip()
        # The export writes a quote before a cell a spreadsheet would run as a formula
        # (catalog/listing.py): reading one back takes the quote off, so export and import
        # round-trip.
        if len(text) > 1 and text[0] == "'" and text[1] in FORMULA_STARTS:
            return text[1:]
        return text

    sku = cell("sku")
    if not SKU.match(sku):
        raise RowError("sku must be 1 to 64 letters, digits, '.', '_' or '-'")
    name = cell("name")
    if not name or len(name) > 200:
        raise RowError("name must be 1 to 200 characters")
    try:
        price = Decimal(cell("price"))
    except InvalidOperation:
        raise RowError(f"price {cell('price')!r} is not a number") from None
    if not price.is_finite() or price < 0 or price != price.quantize(Decimal("0.01")):
        raise RowError("price must be 0 or more with at most two decimals")
    cents = int(price * 100)
    if cents > MAX_PRICE_CENTS:
        raise RowError(f"price must be at most {MAX_PRICE_CENTS / 100:,.2f}")
    stock_text = cell("stock")
    if not re.fullmatch(r"\d{1,10}", stock_text) or int(stock_text) > MAX_STOCK:
        raise RowError(f"stock {stock_text!r} must be a whole number from 0 to {MAX_STOCK}")
    active_text = cell("active").lower()
    if active_text and active_text not in TRUE | FALSE:
        raise RowError("active must be true or false")
    try:
        specs = parse_notation(cell("options"))
    except OptionSpecError as exc:
        raise RowError(str(exc)) from None
    return {
        "sku": sku,
        "name": name,
        "description": cell("description")[:5000],
        "price_cents": cents,
        "stock": int(stock_text),
        "active": active_text not in FALSE,
        "options_json": specs_to_json(specs),
    }


def import_csv(lines: Iterable[str], *, commit: bool = True) -> ImportReport:
    """Load or update products; bad rows are reported by line number, good rows kept.

    ``commit=False`` leaves the transaction open, so the back office writes its audit entries
    in the same transaction as the import."""
    report = ImportReport()
    reader = csv.DictReader(lines)
    columns = [c.strip().lower() for c in reader.fieldnames or []]
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    if missing:
        report.errors.append((1, f"missing column(s): {', '.join(missing)}"))
        return report
    reader.fieldnames = columns
    seen: set[str] = set()
    rows = []
    line = reader.line_num
    for raw in reader:
        start, line = line + 1, reader.line_num
        try:
            if None in raw:
                raise RowError("more cells than columns")
            values = parse_row(raw)
            if values["sku"] in seen:
                raise RowError(f"sku {values['sku']} appears earlier in the file")
        except RowError as exc:
            report.errors.append((start, str(exc)))
            continue
        seen.add(values["sku"])
        rows.append(values)
    upsert(rows, report, commit=commit)
    return report


def upsert(
    rows: list[dict], report: ImportReport, *, overwrite: bool = True, commit: bool = True
) -> None:
    from storefront.orders import stock  # the ledger sees every change of stock

    existing = by_skus(r["sku"] for r in rows)
    created = []
    for values in rows:
        product = existing.get(values["sku"])
        if product is None:
            product = Product(**values)
            db.session.add(product)
            created.append(product)
            report.created += 1
        elif overwrite:
            delta = values.get("stock", product.stock) - product.stock
            for key, value in values.items():
                setattr(product, key, value)
            stock.adjust(product.id, delta, "restock")
            report.updated += 1
    db.session.flush()
    for product in created:
        stock.adjust(product.id, product.stock, "restock")
    if commit:
        db.session.commit()
