"""The back office's analytics page as data: a report laid out as the charts and tables show it,
every day of the range present (a quiet day is a zero, not a gap), the funnel's conversion and
the top products with their names. The page, its chart script and the CSV files read this, so
the picture, the table beside it and the download always hold the same numbers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select

from storefront import money
from storefront.analytics.ranges import Range
from storefront.analytics.report import Day, Report
from storefront.catalog.models import Product
from storefront.extensions import db

FUNNEL_LABELS = {
    "added_to_cart": "Added to cart",
    "started_checkout": "Started checkout",
    "placed_order": "Placed an order",
}


@dataclass(frozen=True)
class FunnelRow:
    step: str
    label: str
    shoppers: int
    of_first: float | None  # share of the first step's shoppers, None when it had none
    of_previous: float | None


@dataclass(frozen=True)
class ProductRow:
    sku: str
    name: str  # "" when the product is no longer in the catalog
    units_added: int
    units_ordered: int


@dataclass(frozen=True)
class Dashboard:
    range: Range
    zone: str
    currency: str
    locale: str  # as Babel spells it, "en_US"
    report: Report
    days: tuple[Day, ...]  # one per day of the range, in order
    funnel: tuple[FunnelRow, ...]
    products: tuple[ProductRow, ...]

    @property
    def quiet(self) -> bool:
        """Nothing at all happened in the range: the page says so instead of empty charts."""
        r = self.report
        return not (
            r.carts_created
            or r.lines_added
            or r.checkouts_started
            or r.orders_placed
            or r.orders_paid
            or r.payments_failed
            or r.abandoned_carts
            or r.reminders_sent
            or r.carts_recovered
            or self.products
        )

    def busiest(self, figure: str) -> Day | None:
        """The day with the most of ``figure`` (the earliest on a tie), None if all are zero."""
        best = max(self.days, key=lambda d: getattr(d, figure), default=None)
        return best if best is not None and getattr(best, figure) else None

    def amount(self, cents: int) -> str:
        return money.to_decimal_text(cents, self.currency)

    def chart_data(self) -> dict:
        """What the chart script draws, as JSON: the same numbers as the tables."""
        return {
            "currency": self.currency,
            "locale": self.locale.replace("_", "-"),
            "days": [d.day.isoformat() for d in self.days],
            "orders": [d.orders_placed for d in self.days],
            "revenue": [self.amount(d.revenue_cents) for d in self.days],
            "abandoned": [d.abandoned_carts for d in self.days],
            "reminders": [d.reminders_sent for d in self.days],
            "recovered": [d.carts_recovered for d in self.days],
            "funnel": {
                "labels": [row.label for row in self.funnel],
                "shoppers": [row.shoppers for row in self.funnel],
            },
            "products": {
                "labels": [row.name or row.sku for row in self.products],
                "added": [row.units_added for row in self.products],
                "ordered": [row.units_ordered for row in self.products],
            },
        }


def every_day(report: Report, chosen: Range) -> tuple[Day, ...]:
    """The report's days with the missing ones as zeros, in calendar order."""
    reported: dict[date, Day] = {d.day: d for d in report.days}
    return tuple(reported.get(day, Day(day)) for day in chosen.dates())


def funnel_rows(report: Report) -> tuple[FunnelRow, ...]:
    rows: list[FunnelRow] = []
    first = report.funnel[0].shoppers if report.funnel else 0
    previous: int | None = None
    for step in report.funnel:
        rows.append(
            FunnelRow(
                step=step.step,
                label=FUNNEL_LABELS.get(step.step, step.step.replace("_", " ").capitalize()),
                shoppers=step.shoppers,
                of_first=step.shoppers / first if first else None,
                of_previous=step.shoppers / previous if previous else None,
            )
        )
        previous = step.shoppers
    return tuple(rows)


def product_rows(report: Report) -> tuple[ProductRow, ...]:
    """The top products with the name the catalog gives them now (one query)."""
    skus = [p.sku for p in report.top_products]
    found = db.session.execute(select(Product.sku, Product.name).where(Product.sku.in_(skus)))
    names = {sku: name for sku, name in found}
    return tuple(
        ProductRow(p.sku, names.get(p.sku, ""), p.units_added, p.units_ordered)
        for p in report.top_products
    )


def build(report: Report, chosen: Range, zone: str, currency: str, locale: str) -> Dashboard:
    return Dashboard(
        range=chosen,
        zone=zone,
        currency=currency,
        locale=locale,
        report=report,
        days=every_day(report, chosen),
        funnel=funnel_rows(report),
        products=product_rows(report) if report.top_products else (),
    )
