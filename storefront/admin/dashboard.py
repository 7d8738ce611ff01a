"""The figures on the back office's first page, read in one go.

Definitions, as the page states them: a period's orders are those placed in it, whatever their
status now; its revenue is the sum of the totals of those that are paid or fulfilled (pending,
cancelled and refunded orders bring nothing). Days are the shop's days, in STOREFRONT_TIME_ZONE
(as the analytics count them); a week starts on Monday."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import func, select

from storefront.admin import audit
from storefront.analytics.ranges import day_start, today
from storefront.catalog.models import Product
from storefront.extensions import db
from storefront.mail import outbox
from storefront.orders.models import Order

EARNING = ("paid", "fulfilled")
RECENT = 10


@dataclass(frozen=True)
class Period:
    label: str
    day: date  # the shop's calendar day the period starts on
    since: datetime  # that day's first instant (UTC)
    orders: int
    revenue: int  # minor units


@dataclass(frozen=True)
class RecentOrder:
    number: int
    status: str
    total: int
    currency: str
    placed_at: datetime


@dataclass(frozen=True)
class Dashboard:
    periods: tuple[Period, ...]
    awaiting_payment: int  # pending
    awaiting_fulfilment: int  # paid
    low_stock_threshold: int
    low_stock_count: int
    low_stock: tuple[Product, ...]  # the lowest first, at most RECENT
    recent_orders: tuple[RecentOrder, ...]
    recent_actions: tuple[audit.Entry, ...]
    mail_backlog: dict[str, int]  # emails waiting to be sent, and given up


def period_starts(at: datetime, zone: str) -> tuple[date, date]:
    """The shop's day ``at`` falls on, and the Monday that starts its week, in ``zone``."""
    day = today(at, zone)
    return day, day - timedelta(days=day.weekday())


def _period(label: str, day: date, zone: str) -> Period:
    since = day_start(day, zone)
    placed = Order.placed_at >= since
    orders = db.session.scalar(select(func.count()).select_from(Order).where(placed)) or 0
    revenue = db.session.scalar(
        select(func.coalesce(func.sum(Order.total), 0)).where(placed, Order.status.in_(EARNING))
    )
    return Period(label, day, since, orders, int(revenue or 0))


def _count(status: str) -> int:
    return db.session.scalar(select(func.count()).select_from(Order).where(Order.status == status))


def figures(at: datetime, low_stock: int, zone: str) -> Dashboard:
    day, week = period_starts(at, zone)
    low = Product.active & (Product.stock <= low_stock)
    recent = db.session.scalars(
        select(Order).order_by(Order.placed_at.desc(), Order.id.desc()).limit(RECENT)
    )
    return Dashboard(
        periods=(_period("Today", day, zone), _period("This week", week, zone)),
        awaiting_payment=_count("pending"),
        awaiting_fulfilment=_count("paid"),
        low_stock_threshold=low_stock,
        low_stock_count=db.session.scalar(select(func.count()).select_from(Product).where(low)),
        low_stock=tuple(
            db.session.scalars(
                select(Product).where(low).order_by(Product.stock, Product.sku).limit(RECENT)
            )
        ),
        recent_orders=tuple(
            RecentOrder(o.number, o.status, o.total, o.currency, o.placed_at) for o in recent
        ),
        recent_actions=tuple(audit.entries(audit.Filters())[0][:RECENT]),
        mail_backlog=outbox.backlog(),
    )
