"""The analytics of a range as CSV files, one per table of the dashboard, for a spreadsheet.

Every cell goes through the catalog export's ``safe_cell``: a product name such as
``=HYPERLINK(...)`` reaches the spreadsheet as text, never as a formula."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator

from storefront.analytics.dashboard import Dashboard
from storefront.catalog.listing import safe_cell

TABLES = ("days", "summary", "funnel", "products")


def _lines(rows: Iterable[Iterable[object]]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    for row in rows:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow(safe_cell(cell) for cell in row)
        yield buffer.getvalue()


def _days(view: Dashboard) -> Iterator[tuple[object, ...]]:
    yield (
        "day",
        "carts_created",
        "orders_placed",
        "orders_paid",
        "revenue",
        "abandoned_carts",
        "reminders_sent",
        "carts_recovered",
    )
    for d in view.days:
        yield (
            d.day.isoformat(),
            d.carts_created,
            d.orders_placed,
            d.orders_paid,
            view.amount(d.revenue_cents),
            d.abandoned_carts,
            d.reminders_sent,
            d.carts_recovered,
        )
    r = view.report
    yield (
        "total",
        r.carts_created,
        r.orders_placed,
        r.orders_paid,
        view.amount(r.revenue_cents),
        r.abandoned_carts,
        r.reminders_sent,
        r.carts_recovered,
    )


def _summary(view: Dashboard) -> Iterator[tuple[object, ...]]:
    """The contract's figures, named as in the JSON, one a row."""
    r = view.report
    yield ("figure", "value")
    yield ("from", r.start.isoformat())
    yield ("to", r.end.isoformat())
    yield ("time_zone", view.zone)
    yield ("currency", view.currency)
    for name in (
        "carts_created",
        "lines_added",
        "units_added",
        "lines_removed",
        "checkouts_started",
        "orders_placed",
        "orders_paid",
    ):
        yield (name, getattr(r, name))
    yield ("revenue", view.amount(r.revenue_cents))
    for name in (
        "abandoned_carts",
        "reminders_sent",
        "carts_recovered",
        "payments_failed",
        "orders_cancelled",
        "orders_refunded",
    ):
        yield (name, getattr(r, name))


def _percent(share: float | None) -> str:
    return "" if share is None else f"{share * 100:.1f}"


def _funnel(view: Dashboard) -> Iterator[tuple[object, ...]]:
    yield ("step", "shoppers", "percent_of_first_step", "percent_of_previous_step")
    for row in view.funnel:
        yield (row.step, row.shoppers, _percent(row.of_first), _percent(row.of_previous))


def _products(view: Dashboard) -> Iterator[tuple[object, ...]]:
    yield ("sku", "name", "units_added", "units_ordered")
    for row in view.products:
        yield (row.sku, row.name, row.units_added, row.units_ordered)


_TABLES = {"days": _days, "summary": _summary, "funnel": _funnel, "products": _products}


def csv_text(view: Dashboard, table: str) -> str:
    return "".join(_lines(_TABLES[table](view)))


def filename(view: Dashboard, table: str) -> str:
    return f"analytics-{table}-{view.range.start.isoformat()}-to-{view.range.end.isoformat()}.csv"
