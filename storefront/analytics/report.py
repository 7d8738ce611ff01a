"""The analytics of a date range, as the contract's JSON and the dashboard show them.

``compute`` is the one function the API, the dashboard, the CSV download and ``analytics
verify`` share. Every figure is counted by the database from ``commerce_events`` (a few
GROUP BY queries, never a loop over the rows here); what each one counts:

- ``carts_created``: a cart going from empty to holding a line by its shopper's own add (a
  new cart, or one started again after it was emptied or ordered); merges and restores bring
  back a cart that was already counted.
- ``lines_added`` new lines and ``units_added`` units added by the shopper's changes (an add,
  a quantity raised); ``lines_removed`` lines the shopper removed (a removal, a quantity set to
  0, each line of an emptied cart). Merges, restores and orders count in none of them.
- ``checkouts_started``: carts whose shopper first saved checkout details in the range.
- ``orders_placed``: orders created in the range, paid at once or pending; ``orders_paid``:
  payments captured in the range; ``revenue``: the totals of the orders placed in the range
  that were paid (by now; a refund does not take it back: see ``orders_refunded``). A declined
  payment counts in none of them.
- ``abandoned_carts``: the moments a cart holding at least one unit had gone
  STOREFRONT_ABANDONED_CART_MINUTES without a change and without an order, counted on the day
  that moment falls (up to now; a cart left again later is abandoned again). Visits without a
  change are not events, so they do not count as activity here (the reminder job, which also
  waits for no visit, can therefore remind of fewer carts than are abandoned).
- ``reminders_sent``; ``carts_recovered``: orders placed after their shopper brought a
  reminded cart back.
- ``funnel``: distinct shoppers who, in the range, added to a cart / started checkout / placed
  an order (each step counted on its own, so a checkout in the range whose add was before it
  still counts). A guest who signed in and whose cart was merged or adopted counts as the
  account's shopper, whenever the merge happened.
- ``top_products``: the ``TOP_PRODUCTS`` skus with the most units ordered (orders placed in
  the range, paid or not), then the most units added, then by sku.
- ``days``: the same counts per day, for the charts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import Connection, and_, case, func, literal, or_, select, union_all

from storefront import clock
from storefront.analytics import days as local
from storefront.analytics.kinds import EventKind as K
from storefront.analytics.models import CommerceEvent
from storefront.extensions import db

TOP_PRODUCTS = 10
FUNNEL_STEPS = ("added_to_cart", "started_checkout", "placed_order")


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
    lines_added: int = 0
    units_added: int = 0
    lines_removed: int = 0
    checkouts_started: int = 0
    payments_failed: int = 0


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
    # Beyond the contract's JSON, for the dashboard.
    payments_failed: int = 0
    orders_cancelled: int = 0
    orders_refunded: int = 0


def compute(start: date, end: date) -> Report:
    """The analytics from ``start`` to ``end`` inclusive, days in STOREFRONT_TIME_ZONE, from
    the events committed when it starts (read on a connection of its own: events the caller's
    session has not committed yet are not seen)."""
    if end < start:
        raise ValueError("the range ends before it starts")
    zone = ZoneInfo(current_app.config["TIME_ZONE"])
    # Every query of the report reads one snapshot of the events, whatever is committed while
    # it runs (its own connection, so the caller's session and transaction are left alone):
    # SQLite's read transaction is one already; PostgreSQL's default would see new commits.
    with db.engine.connect() as connection:
        if connection.dialect.name == "postgresql":
            connection = connection.execution_options(isolation_level="REPEATABLE READ")
        query = _Query(start, end, zone, connection)
        per_day = {day: _DayCounts() for day in local.days_between(start, end)}
        for day, kind, count, units in query.counts():
            per_day[day].add(kind, count, units)
        for day, revenue in query.revenue():
            per_day[day].revenue_cents = revenue
        for day, count in query.abandoned():
            per_day[day].abandoned_carts = count
        funnel, top_products = query.funnel(), query.top_products()
    days = tuple(counts.day(day) for day, counts in per_day.items())
    totals = {name: sum(getattr(d, name) for d in days) for name in _DAY_FIGURES}
    return Report(
        start=start,
        end=end,
        **totals,
        funnel=funnel,
        top_products=top_products,
        days=days,
        orders_cancelled=sum(c.kinds.get(K.ORDER_CANCELLED, 0) for c in per_day.values()),
        orders_refunded=sum(c.kinds.get(K.ORDER_REFUNDED, 0) for c in per_day.values()),
    )


_DAY_FIGURES = (
    "carts_created",
    "lines_added",
    "units_added",
    "lines_removed",
    "checkouts_started",
    "orders_placed",
    "orders_paid",
    "revenue_cents",
    "abandoned_carts",
    "reminders_sent",
    "carts_recovered",
    "payments_failed",
)


class _DayCounts:
    def __init__(self) -> None:
        self.kinds: dict[int, int] = {}
        self.units_added = 0
        self.revenue_cents = 0
        self.abandoned_carts = 0

    def add(self, kind: int, count: int, units: int) -> None:
        self.kinds[kind] = count
        if kind in (K.LINE_ADDED, K.QUANTITY_CHANGED):
            self.units_added += units

    def day(self, day: date) -> Day:
        kinds = self.kinds
        return Day(
            day=day,
            carts_created=kinds.get(K.CART_CREATED, 0),
            orders_placed=kinds.get(K.ORDER_PLACED, 0),
            orders_paid=kinds.get(K.ORDER_PAID, 0),
            revenue_cents=self.revenue_cents,
            abandoned_carts=self.abandoned_carts,
            reminders_sent=kinds.get(K.REMINDER_SENT, 0),
            carts_recovered=kinds.get(K.CART_RECOVERED, 0),
            lines_added=kinds.get(K.LINE_ADDED, 0),
            units_added=self.units_added,
            lines_removed=kinds.get(K.LINE_REMOVED, 0),
            checkouts_started=kinds.get(K.CHECKOUT_STARTED, 0),
            payments_failed=kinds.get(K.PAYMENT_FAILED, 0),
        )


_E = CommerceEvent.__table__
# What a shopper added: a new line, or more units of one (a quantity lowered is negative).
_ADDS = or_(_E.c.kind == K.LINE_ADDED, and_(_E.c.kind == K.QUANTITY_CHANGED, _E.c.quantity > 0))


class _Query:
    """The report's queries over one range: every count grouped in the database."""

    def __init__(self, start: date, end: date, zone: ZoneInfo, connection: Connection) -> None:
        self.lo = local.midnight(start, zone)
        self.hi = local.midnight(end + local.DAY, zone)
        self.cut = local.segments(start, end, zone)
        self.connection = connection
        self.dialect = connection.dialect.name
        self.in_range = and_(_E.c.at >= self.lo, _E.c.at < self.hi)

    def _day(self, instant):
        return local.local_day(instant, self.cut, self.dialect)

    def _rows(self, stmt):
        return self.connection.execute(stmt).all()

    def counts(self):
        """(day, kind, events, units added) for every kind that happened."""
        rows = (
            select(self._day(_E.c.at).label("day"), _E.c.kind, _E.c.quantity)
            .where(self.in_range)
            .subquery()
        )
        positive = func.coalesce(func.sum(rows.c.quantity).filter(rows.c.quantity > 0), 0)
        stmt = select(rows.c.day, rows.c.kind, func.count(), positive).group_by(
            rows.c.day, rows.c.kind
        )
        return [(date.fromisoformat(d), k, n, u) for d, k, n, u in self._rows(stmt)]

    def revenue(self):
        paid = _E.alias("paid")
        was_paid = (
            select(paid.c.id)
            .where(paid.c.kind == K.ORDER_PAID, paid.c.order_number == _E.c.order_number)
            .exists()
        )
        rows = (
            select(self._day(_E.c.at).label("day"), _E.c.amount_cents)
            .where(self.in_range, _E.c.kind == K.ORDER_PLACED, was_paid)
            .subquery()
        )
        stmt = select(rows.c.day, func.sum(rows.c.amount_cents)).group_by(rows.c.day)
        return [(date.fromisoformat(d), int(total)) for d, total in self._rows(stmt)]

    def abandoned(self):
        """Per day, the carts that became abandoned then: a cart event leaving units in the
        cart, followed by no other cart event or order of that shopper for the idle time."""
        idle = current_app.config["ABANDONED_CART_AFTER"]
        now = clock.now()
        if now < self.lo:
            return []
        # The shopper's cart timeline: every event saying what the cart holds after it, and
        # for a guest whose cart a sign-in merged (or a registration adopted), that moment,
        # after which the guest's cart holds nothing.
        window = and_(_E.c.at >= self.lo - idle, _E.c.at < self.hi, _E.c.at <= now)
        timeline = union_all(
            select(
                _E.c.shopper.label("who"), _E.c.at, _E.c.id, _E.c.cart_units.label("units")
            ).where(window, _E.c.cart_units.is_not(None)),
            select(_E.c.peer, _E.c.at, _E.c.id, literal(0)).where(
                window, _E.c.kind == K.MERGED, _E.c.peer.is_not(None)
            ),
        ).subquery()
        following = func.lead(timeline.c.at).over(
            partition_by=timeline.c.who, order_by=(timeline.c.at, timeline.c.id)
        )
        steps = select(timeline.c.at, timeline.c.units, following.label("next_at")).subquery()
        seconds = int(idle.total_seconds())
        idle_at = local.shifted(steps.c.at, seconds, self.dialect)
        rows = (
            select(self._day(idle_at).label("day"))
            .where(
                steps.c.units > 0,
                steps.c.at >= self.lo - idle,
                steps.c.at < self.hi - idle,
                steps.c.at <= now - idle,  # idle long enough by now (not yet: not counted)
                or_(steps.c.next_at.is_(None), steps.c.next_at >= idle_at),
            )
            .subquery()
        )
        stmt = select(rows.c.day, func.count()).group_by(rows.c.day)
        return [(date.fromisoformat(d), n) for d, n in self._rows(stmt)]

    def funnel(self) -> tuple[FunnelStep, ...]:
        # A guest's hash -> the account's, through the guest's first merge (or adoption).
        first_merge = (
            select(_E.c.peer, func.min(_E.c.id).label("merge_id"))
            .where(_E.c.kind == K.MERGED, _E.c.peer.is_not(None))
            .group_by(_E.c.peer)
            .subquery()
        )
        merge = _E.alias("merge")
        step = case((_E.c.kind == K.CHECKOUT_STARTED, 2), (_E.c.kind == K.ORDER_PLACED, 3), else_=1)
        rows = (
            select(step.label("step"), func.coalesce(merge.c.shopper, _E.c.shopper).label("who"))
            .select_from(
                _E.outerjoin(first_merge, first_merge.c.peer == _E.c.shopper).outerjoin(
                    merge, merge.c.id == first_merge.c.merge_id
                )
            )
            .where(
                self.in_range,
                or_(_ADDS, _E.c.kind.in_((K.CHECKOUT_STARTED, K.ORDER_PLACED))),
            )
            .subquery()
        )
        stmt = select(rows.c.step, func.count(rows.c.who.distinct())).group_by(rows.c.step)
        found = dict(self._rows(stmt))
        return tuple(
            FunnelStep(name, found.get(i, 0)) for i, name in enumerate(FUNNEL_STEPS, start=1)
        )

    def top_products(self) -> tuple[TopProduct, ...]:
        added = func.coalesce(func.sum(_E.c.quantity).filter(_ADDS), 0).label("added")
        ordered = func.coalesce(
            func.sum(_E.c.quantity).filter(_E.c.kind == K.LINE_ORDERED), 0
        ).label("ordered")
        stmt = (
            select(_E.c.sku, added, ordered)
            .where(
                self.in_range,
                _E.c.sku.is_not(None),
                or_(_ADDS, _E.c.kind == K.LINE_ORDERED),
            )
            .group_by(_E.c.sku)
            .order_by(ordered.desc(), added.desc(), _E.c.sku)
            .limit(TOP_PRODUCTS)
        )
        return tuple(TopProduct(sku, int(a), int(o)) for sku, a, o in self._rows(stmt))
