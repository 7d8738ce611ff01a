"""The date ranges analytics are asked for: read from a query string, checked, and the presets
the dashboard offers. Days are calendar days in STOREFRONT_TIME_ZONE; a range includes both
ends."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from storefront.analytics.days import days_between, midnight
from storefront.errors import InvalidRange

# A leap year and a day to spare: a year against the year before is one range, and the per-day
# series stays small enough to draw and to send.
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


def _day(text: str, name: str) -> date:
    text = text.strip()
    if not _ISO_DAY.fullmatch(text):
        raise InvalidRange(f"The {name} date must be a date like 2026-12-01, got {text[:20]!r}.")
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise InvalidRange(f"The {name} date {text} is not a day of the calendar.") from None
    if not EARLIEST <= day <= LATEST:
        raise InvalidRange(
            f"The {name} date must be between {EARLIEST.isoformat()} and {LATEST.isoformat()}."
        )
    return day


def parse(start: str | None, end: str | None, default: Range | None = None) -> Range:
    """A range from ``from`` and ``to`` texts. With ``default``, missing ends are taken from it
    (the dashboard's first view); without, both are required (the API)."""
    if default is not None:
        start = start if start and start.strip() else default.start.isoformat()
        end = end if end and end.strip() else default.end.isoformat()
    if not start or not start.strip() or not end or not end.strip():
        raise InvalidRange("Give both ends of the range: from and to, as dates like 2026-12-01.")
    chosen = Range(_day(start, "from"), _day(end, "to"))
    if chosen.end < chosen.start:
        raise InvalidRange(
            f"The range ends ({chosen.end.isoformat()}) before it starts "
            f"({chosen.start.isoformat()}): swap the dates."
        )
    if chosen.days > MAX_DAYS:
        raise InvalidRange(
            f"The range covers {chosen.days:,} days; at most {MAX_DAYS} can be shown at once."
        )
    return chosen


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
