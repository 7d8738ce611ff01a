"""The date range an analytics request asks for, read strictly: two calendar dates
(``YYYY-MM-DD``) in the shop's time zone, in order, at most ``MAX_DAYS`` days together."""

from __future__ import annotations

import re
from datetime import date

from storefront.errors import InvalidRange

# A year and a day: last year's same day and a leap year both fit; a longer range would make
# one request scan (and the dashboard chart) more days than anyone reads at once.
MAX_DAYS = 366
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", re.ASCII)


def _day(value: object, name: str) -> date:
    if value is None or value == "":
        raise InvalidRange(f"Give {name!r} as a date, YYYY-MM-DD.", fields=[name])
    if not isinstance(value, str) or not _DATE.fullmatch(value):
        raise InvalidRange(f"{name!r} must be a date written YYYY-MM-DD.", fields=[name])
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidRange(f"{name!r} is not a date that exists.", fields=[name]) from None


def parse(start: object, end: object) -> tuple[date, date]:
    first, last = _day(start, "from"), _day(end, "to")
    if last < first:
        raise InvalidRange("'to' is before 'from'.", fields=["from", "to"])
    if (last - first).days + 1 > MAX_DAYS:
        raise InvalidRange(
            f"A range is at most {MAX_DAYS} days; ask for a shorter one.", fields=["from", "to"]
        )
    return first, last
