"""The analytics of a date range, as the contract's JSON and the dashboard show them.

``compute`` is the one function the API, the dashboard, the CSV download and ``analytics
verify`` share.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date


@dataclass(frozen=True)
class FunnelStep:
    step: str  # "added_to_cart", "started_checkout", "placed_order"
    shoppers: int


@dataclass(frozen=True)
class TopProduct:
    sku: str
    units_added: int
    units_ordered: int


@dataclass(frozen=True)
class Day:
    """One day of the range, in STOREFRONT_TIME_ZONE (the dashboard's charts)."""

    day: date
    carts_created: int = 0
    orders_placed: int = 0
    orders_paid: int = 0
    revenue_cents: int = 0
    abandoned_carts: int = 0
    reminders_sent: int = 0
    carts_recovered: int = 0


@dataclass(frozen=True)
class Report:
    start: date  # "from" in the JSON
    end: date  # "to", inclusive
    carts_created: int = 0
    lines_added: int = 0
    units_added: int = 0
    lines_removed: int = 0
    checkouts_started: int = 0
    orders_placed: int = 0
    orders_paid: int = 0
    revenue_cents: int = 0
    abandoned_carts: int = 0
    reminders_sent: int = 0
    carts_recovered: int = 0
    funnel: tuple[FunnelStep, ...] = ()
    top_products: tuple[TopProduct, ...] = ()
    days: tuple[Day, ...] = field(default=())


def compute(start: date, end: date) -> Report:
    """The analytics from ``start`` to ``end`` inclusive, days in STOREFRONT_TIME_ZONE."""
    raise NotImplementedError("issue 14: computed from commerce_events")
