"""The catalog as the back office sees it: every product, retired ones too, searched, filtered
and paged; and the whole catalog as a CSV an import reads back."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy import func, or_, select

from storefront import money
from storefront.catalog.models import Product
from storefront.catalog.options import to_notation
from storefront.catalog.services import FORMULA_STARTS
from storefront.extensions import db

PAGE_SIZE = 50
STATUSES = ("all", "active", "retired")
EXPORT_COLUMNS = ("sku", "name", "price", "stock", "description", "options", "active")


@dataclass(frozen=True)
class Filters:
    query: str = ""
    status: str = "all"
    low_stock: bool = False

    @classmethod
    def read(cls, args) -> Filters:
        """From a query string; anything unexpected falls back to the default, never an error."""
        status = args.get("status", "all")
        return cls(
            query=(args.get("q") or "").strip()[:100],
            status=status if status in STATUSES else "all",
            low_stock=args.get("low") in ("1", "on", "true"),
        )


@dataclass(frozen=True)
class Listing:
    products: list[Product]
    page: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // PAGE_SIZE))


def listed(filters: Filters, page: int, low_stock_at: int) -> Listing:
    stmt = select(Product)
    if filters.query:
        escaped = filters.query.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        pattern = f"%{escaped.lower()}%"
        stmt = stmt.where(
            or_(
                func.lower(Product.name).like(pattern, escape="\\"),
                func.lower(Product.sku).like(pattern, escape="\\"),
            )
        )
    if filters.status != "all":
        stmt = stmt.where(Product.active.is_(filters.status == "active"))
    if filters.low_stock:
        stmt = stmt.where(Product.stock <= low_stock_at)
    total = db.session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    last = max(1, -(-total // PAGE_SIZE))
    page = min(max(1, page), last)
    rows = db.session.scalars(
        stmt.order_by(Product.sku).offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE)
    ).all()
    return Listing(list(rows), page, total)


def safe_cell(value: object) -> str:
    """A cell a spreadsheet shows as text: one starting like a formula gets a leading quote."""
    text = str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def export_rows(currency: str) -> Iterator[str]:
    """The whole catalog, in the import's columns, one CSV line at a time."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")

    def line(cells) -> str:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow(cells)
        return buffer.getvalue()

    yield line(EXPORT_COLUMNS)
    products = db.session.scalars(
        select(Product).order_by(Product.sku).execution_options(yield_per=500)
    )
    for product in products:
        yield line(
            safe_cell(cell)
            for cell in (
                product.sku,
                product.name,
                money.to_decimal_text(product.price_cents, currency),
                product.stock,
                product.description or "",
                to_notation(product.option_specs),
                "true" if product.active else "false",
            )
        )
