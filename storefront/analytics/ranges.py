"""The date ranges analytics are asked for, read strictly from a query string (the API, the
dashboard and its CSV alike), and the presets the dashboard offers. Days are calendar days in
STOREFRONT_TIME_ZONE; a range includes both ends."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from storefront.analytics.days import days_between, midnight
from storefront.errors import InvalidRange

# A year and a day: last year's same day and a leap year both fit; a longer range would make
# one request scan (and the dashboard chart) more days than anyone reads at once.
MAX_DAYS = 366
DEFAULT_DAYS = 30
# date.fromisoformat also takes "20261201" and "2026-W49-1": the form and the CSV link send
# YYYY-MM-DD, and one spelling keeps links and bookmarks comparable.
_ISO_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", re.ASCII)
# Far enough from datetime's limits that a local midnight still converts to UTC.
EARLIEST, LATEST = date(1970, 1, 1), date(9998, 12, 31)


@dataclass(frozen=True)
class Range:
    start: date
    end: date  # inclusive

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def dates(self) -> list[date]:
        return days_between(self.start, self.end)

    def query(self) -> dict[str, str]:
        return {"from": self.start.isoformat(), "to": self.end.isoformat()}


def today(at: datetime, zone: str) -> date:
    """The shop's calendar day at the instant ``at``."""
    return at.astimezone(ZoneInfo(zone)).date()


def day_start(day: date, zone: str) -> datetime:
    """The instant (UTC) ``day`` begins in the shop's zone (see ``days.midnight``)."""
    return midnight(day, ZoneInfo(zone))


def _day(value: object, name: str) -> date:
    if value is None or (isinstance(value, str) and not value.strip()):
        raise InvalidRange(
            "Give both ends of the range: from and to, as dates like 2026-12-01.", fields=[name]
        )
    text = value.strip() if isinstance(value, str) else ""
    if not _ISO_DAY.fullmatch(text):
        raise InvalidRange(
            f"The {name} date must be a date like 2026-12-01, got {text[:20]!r}.", fields=[name]
        )
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise InvalidRange(
            f"The {name} date {text} is not a day of the calendar.", fields=[name]
        ) from None
    if not EARLIEST <= day <= LATEST:
        raise InvalidRange(
            f"The {name} date must be between {EARLIEST.isoformat()} and {LATEST.isoformat()}.",
            fields=[name],
        )
    return day


def parse(start: object, end: object) -> tuple[date, date]:
    """Both ends of a range, required (the API); ``InvalidRange`` names the fields at fault."""
    first, last = _day(start, "from"), _day(end, "to")
    if last < first:
        raise InvalidRange(
            f"The range ends ({last.isoformat()}) before it starts ({first.isoformat()}): "
            "swap the dates.",
            fields=["from", "to"],
        )
    days = (last - first).days + 1
    if days > MAX_DAYS:
        raise InvalidRange(
            f"The range covers {days:,} days; a range is at most {MAX_DAYS} days.",
            fields=["from", "to"],
        )
    return first, last


def chosen(start: str | None, end: str | None, default: Range) -> Range:
    """The range a page asks for: an end left out is taken from ``default`` (the dashboard's
    first view, a bookmarked CSV link without dates)."""
    start = start if start and start.strip() else default.start.isoformat()
    end = end if end and end.strip() else default.end.isoformat()
    return Range(*parse(start, end))


def last_days(count: int, until: date) -> Range:
    return Range(until - timedelta(days=count - 1), until)


@dataclass(frozen=True)
class Preset:
    label: str
    range: Range


def presets(on: date) -> tuple[Preset, ...]:
    """The ranges the dashboard offers in one click, relative to the shop's today ``on``."""
    month_start = on.replace(day=1)
    last_month_end = month_start - timedelta(days=1)
    return (
        Preset("Today", Range(on, on)),
        Preset("Last 7 days", last_days(7, on)),
        Preset("Last 30 days", last_days(DEFAULT_DAYS, on)),
        Preset("Last 90 days", last_days(90, on)),
        Preset("This month", Range(month_start, on)),
        Preset("Last month", Range(last_month_end.replace(day=1), last_month_end)),
        Preset("Last 365 days", last_days(365, on)),
    )
