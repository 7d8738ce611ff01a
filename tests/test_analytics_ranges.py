"""The date ranges the analytics page and its CSV accept: both ends as YYYY-MM-DD, in order, at
most a year and a day long; days begin at the shop's midnight, clock changes included."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from storefront.analytics import ranges
from storefront.errors import InvalidRange

TODAY = date(2026, 12, 2)
DEFAULT = ranges.last_days(30, TODAY)


def test_the_default_is_the_last_thirty_days_including_today():
    assert ranges.chosen(None, None, DEFAULT) == ranges.Range(date(2026, 11, 3), TODAY)
    assert ranges.chosen("", " ", DEFAULT) == DEFAULT
    assert ranges.chosen("2026-11-20", None, DEFAULT) == ranges.Range(date(2026, 11, 20), TODAY)
    with pytest.raises(InvalidRange):
        ranges.chosen("2026-12-03", None, DEFAULT)  # after the default's end: reversed


def test_a_range_includes_both_ends():
    chosen = ranges.Range(*ranges.parse("2026-12-01", "2026-12-01"))
    assert chosen.days == 1 and chosen.dates() == [date(2026, 12, 1)]
    leap_year = ranges.Range(*ranges.parse("2028-01-01", "2028-12-31"))
    assert leap_year.days == ranges.MAX_DAYS == 366


@pytest.mark.parametrize(
    ("start", "end", "says"),
    [
        ("2026-12-02", "2026-12-01", "before it starts"),
        ("2026-02-30", "2026-03-01", "not a day of the calendar"),
        ("yesterday", "2026-12-01", "like 2026-12-01"),
        ("20261201", "2026-12-01", "like 2026-12-01"),  # fromisoformat would take it
        ("2026-W49-1", "2026-12-01", "like 2026-12-01"),
        ("2026-12-01T00:00", "2026-12-01", "like 2026-12-01"),
        ("٢٠٢٦-١٢-٠١", "2026-12-01", "like 2026-12-01"),  # other digits than ASCII
        ("0001-01-01", "0001-01-02", "between 1970-01-01"),
        ("9999-12-30", "9999-12-31", "between 1970-01-01"),
        ("2025-12-01", "2026-12-02", "covers 367 days; a range is at most 366 days"),
        ("1970-01-01", "9998-12-31", "days; a range is at most 366 days"),
        ("2026-12-01", None, "both ends"),
        (None, None, "both ends"),
        (20261201, "2026-12-01", "like 2026-12-01"),  # not text at all
    ],
)
def test_bad_ranges_say_what_is_wrong(start, end, says):
    with pytest.raises(InvalidRange) as refused:
        ranges.parse(start, end)
    assert says in refused.value.message
    assert refused.value.code == "invalid_range"
    assert refused.value.detail["fields"] in (["from"], ["to"], ["from", "to"])


def test_a_huge_value_is_not_echoed_in_full():
    with pytest.raises(InvalidRange) as refused:
        ranges.parse("x" * 100_000, "2026-12-01")
    assert len(refused.value.message) < 120


def test_the_shops_day_and_its_first_instant():
    late = datetime(2026, 12, 2, 23, 30, tzinfo=UTC)
    assert ranges.today(late, "UTC") == date(2026, 12, 2)
    assert ranges.today(late, "Europe/Berlin") == date(2026, 12, 3)
    assert ranges.today(late, "America/Los_Angeles") == date(2026, 12, 2)
    assert ranges.day_start(date(2026, 12, 3), "Europe/Berlin") == datetime(
        2026, 12, 2, 23, 0, tzinfo=UTC
    )


def test_a_day_a_clock_change_shortens_or_whose_midnight_it_skips():
    # Berlin goes to summer time at 02:00 on 2026-03-29: that day is 23 hours long.
    start = ranges.day_start(date(2026, 3, 29), "Europe/Berlin")
    end = ranges.day_start(date(2026, 3, 30), "Europe/Berlin")
    assert start == datetime(2026, 3, 28, 23, 0, tzinfo=UTC)
    assert (end - start).total_seconds() == 23 * 3600
    # Santiago's clocks jump from 00:00 to 01:00 on 2026-09-06: the day starts at 01:00 local.
    skipped = ranges.day_start(date(2026, 9, 6), "America/Santiago")
    assert skipped == datetime(2026, 9, 6, 4, 0, tzinfo=UTC)
    assert ranges.day_start(date(2026, 9, 5), "America/Santiago") < skipped


def test_presets_end_today_and_last_month_is_the_whole_month():
    presets = {p.label: p.range for p in ranges.presets(TODAY)}
    assert presets["Today"] == ranges.Range(TODAY, TODAY)
    assert presets["Last 7 days"] == ranges.Range(date(2026, 11, 26), TODAY)
    assert presets["Last 30 days"] == DEFAULT
    assert presets["This month"] == ranges.Range(date(2026, 12, 1), TODAY)
    assert presets["Last month"] == ranges.Range(date(2026, 11, 1), date(2026, 11, 30))
    assert all(r.days <= ranges.MAX_DAYS for r in presets.values())
    january = {p.label: p.range for p in ranges.presets(date(2027, 1, 15))}
    assert january["Last month"] == ranges.Range(date(2026, 12, 1), date(2026, 12, 31))
