"""The analytics report computed from commerce events: every figure of the contract, days in
the shop's time zone (clock changes included), the funnel by shoppers, abandonment to the
microsecond, top products. Events are written with ``events.record`` as the domain code does."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from storefront import clock
from storefront.analytics import events, report
from storefront.analytics.kinds import EventKind as K
from storefront.extensions import db


@pytest.fixture
def settings():
    return {"STOREFRONT_TIME_ZONE": "UTC", "STOREFRONT_ABANDONED_CART_MINUTES": "60"}


@pytest.fixture
def ctx(app):
    with app.app_context():
        clock.freeze(datetime(2026, 12, 20, tzinfo=UTC))
        yield
        db.session.rollback()


def at(day: int, hour: int, minute: int = 0, month: int = 12, **rest) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC, **rest)


def rec(kind, who, when, **fields):
    events.record(kind, who, at=when, **fields)


def add(who, when, sku, quantity, units, *, new_cart=False):
    if new_cart:
        rec(K.CART_CREATED, who, when, cart_units=units)
    rec(K.LINE_ADDED, who, when, sku=sku, quantity=quantity, cart_units=units)


def order(who, when, number, total, lines, units_left=0):
    rec(K.ORDER_PLACED, who, when, order_number=number, amount_cents=total, cart_units=units_left)
    for sku, quantity in lines:
        rec(K.LINE_ORDERED, who, when, sku=sku, quantity=quantity, order_number=number)


def compute(start: date, end: date | None = None) -> report.Report:
    db.session.commit()
    return report.compute(start, end or start)


def test_every_figure_of_a_day(ctx):
    d = 1
    # Ada: a new cart, two lines, one raised, then pays at once.
    add("user:1", at(d, 9), "MUG", 2, 2, new_cart=True)
    add("user:1", at(d, 9, 5), "TEA", 1, 3)
    rec(K.QUANTITY_CHANGED, "user:1", at(d, 9, 6), sku="TEA", quantity=2, cart_units=5)
    rec(K.CHECKOUT_STARTED, "user:1", at(d, 9, 10))
    order("user:1", at(d, 9, 12), 1001, 4_150, [("MUG", 2), ("TEA", 3)])
    rec(K.ORDER_PAID, "user:1", at(d, 9, 12), order_number=1001, amount_cents=4_150)
    # Bob: lowers, removes, empties; a lowered quantity is no unit added.
    add("guest:b", at(d, 10), "MUG", 3, 3, new_cart=True)
    rec(K.QUANTITY_CHANGED, "guest:b", at(d, 10, 1), sku="MUG", quantity=-1, cart_units=2)
    add("guest:b", at(d, 10, 2), "PEN", 1, 3)
    rec(K.LINE_REMOVED, "guest:b", at(d, 10, 3), sku="PEN", quantity=1, cart_units=2)
    rec(K.LINE_REMOVED, "guest:b", at(d, 10, 4), sku="MUG", quantity=2, cart_units=0)
    rec(K.CART_EMPTIED, "guest:b", at(d, 10, 4), quantity=1, cart_units=0)
    # Cleo: declined first, then a pending order that is paid the next day; it counts as
    # placed on day 1, paid on day 2, and its revenue on day 1 (placed then, paid by now).
    add("user:3", at(d, 11), "PEN", 4, 4, new_cart=True)
    rec(K.CHECKOUT_STARTED, "user:3", at(d, 11, 1))
    rec(K.PAYMENT_FAILED, "user:3", at(d, 11, 2))
    order("user:3", at(d, 11, 3), 1002, 2_000, [("PEN", 4)])
    rec(K.ORDER_PAID, "user:3", at(d + 1, 8), order_number=1002, amount_cents=2_000)
    # Dan: a pending order never paid: placed, no revenue.
    add("user:4", at(d, 12), "MUG", 1, 1, new_cart=True)
    rec(K.CHECKOUT_STARTED, "user:4", at(d, 12, 1))
    order("user:4", at(d, 12, 2), 1003, 900, [("MUG", 1)])
    rec(K.ORDER_CANCELLED, "user:4", at(d, 12, 30), order_number=1003)
    # The shop: a reminder, and a recovery.
    rec(K.REMINDER_SENT, "user:5", at(d, 13))
    rec(K.CART_RECOVERED, "user:5", at(d, 14))
    # A merge and a restore add no lines or units of the shopper's own.
    rec(K.MERGED, "user:5", at(d, 13, 30), peer_channel="guest:e", quantity=2, cart_units=2)
    rec(K.RESTORED, "user:5", at(d, 13, 40), quantity=3, cart_units=5)

    r = compute(date(2026, 12, d))
    assert (r.carts_created, r.lines_added, r.units_added, r.lines_removed) == (4, 6, 14, 2)
    assert (r.checkouts_started, r.orders_placed, r.orders_paid) == (3, 3, 1)
    assert r.revenue_cents == 6_150
    assert (r.reminders_sent, r.carts_recovered) == (1, 1)
    assert (r.payments_failed, r.orders_cancelled, r.orders_refunded) == (1, 1, 0)
    assert [(s.step, s.shoppers) for s in r.funnel] == [
        ("added_to_cart", 4),
        ("started_checkout", 3),
        ("placed_order", 3),
    ]
    # PEN has the most units ordered; MUG and TEA tie on those, MUG has more added.
    assert r.top_products == (
        report.TopProduct("PEN", 5, 4),
        report.TopProduct("MUG", 6, 3),
        report.TopProduct("TEA", 3, 3),
    )
    # The next day: Cleo's payment, and no revenue (that order was placed the day before).
    nxt = compute(date(2026, 12, d + 1))
    assert (nxt.orders_placed, nxt.orders_paid, nxt.revenue_cents) == (0, 1, 0)
    both = compute(date(2026, 12, d), date(2026, 12, d + 1))
    assert [(x.day.day, x.orders_placed, x.orders_paid, x.revenue_cents) for x in both.days] == [
        (1, 3, 1, 6_150),
        (2, 0, 1, 0),
    ]
    assert (both.orders_placed, both.orders_paid, both.revenue_cents) == (3, 2, 6_150)


def test_an_empty_range_has_every_day_at_zero(ctx):
    r = compute(date(2026, 12, 1), date(2026, 12, 3))
    assert [d.day for d in r.days] == [date(2026, 12, 1), date(2026, 12, 2), date(2026, 12, 3)]
    assert r.orders_placed == r.carts_created == r.revenue_cents == r.abandoned_carts == 0
    assert [s.shoppers for s in r.funnel] == [0, 0, 0]
    assert r.top_products == ()


def test_a_reversed_range_is_refused(ctx):
    with pytest.raises(ValueError):
        report.compute(date(2026, 12, 2), date(2026, 12, 1))


class TestDaysInTheShopsTimeZone:
    @pytest.fixture
    def settings(self):
        return {"STOREFRONT_TIME_ZONE": "Europe/Berlin"}

    def orders_at(self, *instants):
        for number, instant in enumerate(instants, start=1):
            order(f"user:{number}", instant, number, 100, [])

    def placed_by_day(self, start, end):
        r = compute(start, end)
        return {d.day: d.orders_placed for d in r.days}, r.orders_placed

    def test_a_winter_day_runs_from_23_00_to_23_00_utc(self, ctx):
        self.orders_at(
            at(1, 22, 59, second=59, microsecond=999_999),  # 23:59:59.999999 on Dec 1
            at(1, 23),  # midnight starting Dec 2
            at(2, 22, 59),
            at(2, 23),  # Dec 3
        )
        by_day, total = self.placed_by_day(date(2026, 12, 2), date(2026, 12, 2))
        assert by_day == {date(2026, 12, 2): 2} and total == 2

    def test_the_25_hour_day_when_clocks_go_back(self, ctx):
        # 25 October 2026 in Berlin: from 22:00 UTC on the 24th (CEST) to 23:00 UTC (CET).
        self.orders_at(
            at(24, 21, 59, month=10),
            at(24, 22, month=10),
            at(25, 22, 30, month=10),  # 23:30 CET: still the 25th, in its 25th hour
            at(25, 23, month=10),
        )
        by_day, _ = self.placed_by_day(date(2026, 10, 24), date(2026, 10, 26))
        assert by_day == {date(2026, 10, 24): 1, date(2026, 10, 25): 2, date(2026, 10, 26): 1}

    def test_the_23_hour_day_when_clocks_go_forward(self, ctx):
        # 29 March 2026 in Berlin: from 23:00 UTC on the 28th (CET) to 22:00 UTC (CEST).
        self.orders_at(
            at(28, 22, 59, month=3),
            at(28, 23, month=3),
            at(29, 21, 59, month=3),
            at(29, 22, month=3),
        )
        by_day, _ = self.placed_by_day(date(2026, 3, 28), date(2026, 3, 30))
        assert by_day == {date(2026, 3, 28): 1, date(2026, 3, 29): 2, date(2026, 3, 30): 1}

    def test_a_year_spanning_both_changes_loses_no_instant(self, ctx):
        from zoneinfo import ZoneInfo

        berlin = ZoneInfo("Europe/Berlin")
        first, last = date(2026, 1, 1), date(2026, 12, 31)
        day, instants = first, []
        while day <= last:
            start = datetime(day.year, day.month, day.day, tzinfo=berlin).astimezone(UTC)
            nxt = day + timedelta(days=1)
            end = datetime(nxt.year, nxt.month, nxt.day, tzinfo=berlin).astimezone(UTC)
            instants += [start, end - timedelta(microseconds=1)]
            day = nxt
        self.orders_at(*instants)
        by_day, total = self.placed_by_day(first, last)
        assert total == 730 and set(by_day.values()) == {2}

    def test_half_hour_offsets(self, app):
        app.config["TIME_ZONE"] = "Asia/Kolkata"
        with app.app_context():
            clock.freeze(datetime(2026, 12, 20, tzinfo=UTC))
            self.orders_at(at(1, 18, 29), at(1, 18, 30))  # 23:59 on the 1st, 00:00 on the 2nd
            by_day, _ = self.placed_by_day(date(2026, 12, 1), date(2026, 12, 2))
            assert by_day == {date(2026, 12, 1): 1, date(2026, 12, 2): 1}


def test_the_funnel_counts_a_guest_who_signed_in_as_one_shopper(ctx):
    add("guest:a", at(1, 9), "MUG", 1, 1, new_cart=True)
    rec(K.MERGED, "user:1", at(1, 9, 5), peer_channel="guest:a", quantity=1, cart_units=1)
    rec(K.CHECKOUT_STARTED, "user:1", at(1, 9, 6))
    order("user:1", at(1, 9, 7), 1, 500, [("MUG", 1)])
    # Another shopper who only adds; one who adds twice is still one shopper.
    add("guest:z", at(1, 10), "MUG", 1, 1, new_cart=True)
    rec(K.QUANTITY_CHANGED, "guest:z", at(1, 10, 1), sku="MUG", quantity=1, cart_units=2)
    # A shopper who only lowered a quantity did not add anything in the range.
    rec(K.QUANTITY_CHANGED, "user:9", at(1, 11), sku="MUG", quantity=-1, cart_units=1)
    r = compute(date(2026, 12, 1))
    assert [s.shoppers for s in r.funnel] == [2, 1, 1]


def test_a_guest_merged_on_a_later_day_is_the_same_shopper(ctx):
    add("guest:a", at(1, 9), "MUG", 1, 1, new_cart=True)
    rec(K.MERGED, "user:1", at(2, 9), peer_channel="guest:a", quantity=1, cart_units=1)
    add("user:1", at(2, 10), "TEA", 1, 2)
    r = compute(date(2026, 12, 1), date(2026, 12, 2))
    assert r.funnel[0].shoppers == 1


class TestAbandonment:
    """STOREFRONT_ABANDONED_CART_MINUTES is 60 here."""

    def test_a_cart_left_holding_something_is_abandoned_once_per_idle_period(self, ctx):
        add("user:1", at(1, 10), "MUG", 1, 1, new_cart=True)  # left: abandoned at 11:00
        add("user:2", at(1, 10), "MUG", 1, 1, new_cart=True)
        order("user:2", at(1, 10, 30), 1, 100, [("MUG", 1)])  # ordered in time: not
        add("user:3", at(1, 10), "MUG", 1, 1, new_cart=True)
        add("user:3", at(1, 10, 50), "TEA", 1, 2)  # changed in time, left: once, at 11:50
        add("user:4", at(1, 10), "MUG", 1, 1, new_cart=True)
        rec(K.LINE_REMOVED, "user:4", at(1, 10, 5), sku="MUG", quantity=1, cart_units=0)
        # A guest merged into an account: the account's cart is left, not the guest's.
        add("guest:g", at(1, 10), "MUG", 1, 1, new_cart=True)
        rec(K.MERGED, "user:5", at(1, 10, 10), peer_channel="guest:g", quantity=1, cart_units=1)
        # Left, came back two hours later, left again: abandoned twice.
        add("user:6", at(1, 10), "MUG", 1, 1, new_cart=True)
        add("user:6", at(1, 12), "TEA", 1, 2)
        # An order that left lines behind (added on another device meanwhile): abandoned.
        add("user:7", at(1, 10), "MUG", 2, 2, new_cart=True)
        order("user:7", at(1, 10, 20), 2, 100, [("MUG", 1)], units_left=1)
        r = compute(date(2026, 12, 1))
        assert r.abandoned_carts == 1 + 1 + 1 + 2 + 1

    def test_the_idle_time_is_exact_to_the_microsecond(self, ctx):
        add("user:1", at(1, 10, microsecond=123_456), "MUG", 1, 1, new_cart=True)
        add("user:1", at(1, 11, microsecond=123_456), "TEA", 1, 2)  # a full hour: abandoned
        add("user:2", at(1, 10, microsecond=123_456), "MUG", 1, 1, new_cart=True)
        add("user:2", at(1, 11, microsecond=123_455), "TEA", 1, 2)  # a microsecond short
        add("user:3", at(1, 20), "MUG", 1, 1, new_cart=True)
        # Each cart is left at last too (user:1 twice, user:2 and user:3 once).
        assert compute(date(2026, 12, 1)).abandoned_carts == 4

    def test_counted_on_the_day_the_idle_time_ends_and_not_before_it_ends(self, ctx):
        add("user:1", at(1, 23, 30), "MUG", 1, 1, new_cart=True)  # abandoned at 00:30 on the 2nd
        add("user:2", at(2, 9), "MUG", 1, 1, new_cart=True)
        clock.freeze(at(2, 9, 59))  # user:2 is not idle long enough yet
        r = compute(date(2026, 12, 1), date(2026, 12, 2))
        assert [(d.day.day, d.abandoned_carts) for d in r.days] == [(1, 0), (2, 1)]
        clock.freeze(at(2, 10))
        assert compute(date(2026, 12, 2)).abandoned_carts == 2
        # A day alone sees the change made the evening before.
        assert compute(date(2026, 12, 1)).abandoned_carts == 0


def test_top_products_by_units_ordered_then_added_then_sku(ctx):
    for i in range(12):
        add(f"user:{i}", at(1, 9), f"SKU-{i:02d}", i + 1, i + 1, new_cart=True)
    order("user:0", at(1, 10), 1, 100, [("SKU-00", 1)])
    order("user:1", at(1, 10), 2, 100, [("SKU-01", 1)])
    add("user:99", at(1, 9), "SKU-05", 6, 12)  # SKU-05 now ties SKU-11 on units added
    r = compute(date(2026, 12, 1))
    assert [(p.sku, p.units_added, p.units_ordered) for p in r.top_products] == [
        ("SKU-01", 2, 1),
        ("SKU-00", 1, 1),
        ("SKU-05", 12, 0),
        ("SKU-11", 12, 0),
        ("SKU-10", 11, 0),
        ("SKU-09", 10, 0),
        ("SKU-08", 9, 0),
        ("SKU-07", 8, 0),
        ("SKU-06", 7, 0),
        ("SKU-04", 5, 0),
    ]


def test_events_outside_the_range_do_not_count(ctx):
    add("user:1", at(1, 23, 59, second=59, microsecond=999_999), "MUG", 1, 1, new_cart=True)
    add("user:2", at(3, 0), "MUG", 1, 1, new_cart=True)
    r = compute(date(2026, 12, 2))
    assert (r.carts_created, r.lines_added, r.units_added, r.top_products) == (0, 0, 0, ())
