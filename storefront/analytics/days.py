"""Days in the shop's time zone, counted by the database.

A day runs from one local midnight to the next, converted to UTC: 23 or 25 hours on the days
the clocks change. SQL has no portable "local date of this instant in that zone", so the range
is cut into segments over which the zone's offset is constant, and each segment's instants are
shifted by that offset and truncated to a date, in the database (one ``CASE`` branch per
segment: a year has a handful). A day whose length is not 24 hours is a segment of its own,
every instant of which is that day.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import String, case, func, literal
from sqlalchemy.sql.elements import ColumnElement

from storefront.dbtypes import UTCDateTime

DAY = timedelta(days=1)


@dataclass(frozen=True)
class Segment:
    """Instants from ``lo`` to ``hi`` (UTC, ``hi`` excluded) whose local date is their UTC
    time shifted by ``offset`` seconds; or, for a day of other than 24 hours, ``day``."""

    lo: datetime
    hi: datetime
    offset: int
    day: date | None = None


def midnight(day: date, zone: ZoneInfo) -> datetime:
    """The instant (UTC) ``day`` begins in ``zone``. Where midnight itself is skipped by a
    clock change, the day begins when the clocks jump (zoneinfo's reading of the gap)."""
    return datetime.combine(day, time(), tzinfo=zone).astimezone(UTC)


def days_between(start: date, end: date) -> list[date]:
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]


def segments(start: date, end: date, zone: ZoneInfo) -> list[Segment]:
    found: list[Segment] = []
    for day in days_between(start, end):
        lo, hi = midnight(day, zone), midnight(day + DAY, zone)
        if hi - lo != DAY:
            found.append(Segment(lo, hi, 0, day))
            continue
        offset = int(datetime.combine(day, time(), tzinfo=zone).utcoffset().total_seconds())
        last = found[-1] if found else None
        if last is not None and last.day is None and last.offset == offset and last.hi == lo:
            found[-1] = Segment(last.lo, hi, offset)
        else:
            found.append(Segment(lo, hi, offset))
    return found


def _seconds(instant: ColumnElement) -> ColumnElement:
    """SQLite: the stored instant without its fraction of a second (see ``shifted``)."""
    return func.substr(instant, 1, 19, type_=String)


def shifted(instant: ColumnElement, seconds: int, dialect: str) -> ColumnElement:
    """``instant`` plus whole ``seconds``, still comparable with the stored column."""
    if dialect == "sqlite":
        # SQLAlchemy stores "YYYY-MM-DD HH:MM:SS.ffffff", and SQLite's date functions round
        # the fraction to milliseconds (23:59:59.9999995 would become the next day). So the
        # shift is done on the whole seconds alone and the stored fraction put back (whole
        # seconds never change it): comparisons with other stored instants stay exact.
        whole = func.strftime("%Y-%m-%d %H:%M:%S", _seconds(instant), f"{seconds:+d} seconds")
        return whole.concat(func.substr(instant, 20, type_=String))
    return instant + func.make_interval(0, 0, 0, 0, 0, 0, literal(seconds))


def _local_date(instant: ColumnElement, offset: int, dialect: str) -> ColumnElement:
    if dialect == "sqlite":
        return func.date(_seconds(instant), f"{offset:+d} seconds")
    utc = func.timezone("UTC", instant)
    return func.to_char(utc + func.make_interval(0, 0, 0, 0, 0, 0, literal(offset)), "YYYY-MM-DD")


def local_day(instant: ColumnElement, cut: list[Segment], dialect: str) -> ColumnElement:
    """The local date of ``instant`` as "YYYY-MM-DD" text (NULL outside the segments); the
    caller keeps ``instant`` within them."""
    branches = []
    for segment in cut:
        value = (
            literal(segment.day.isoformat())
            if segment.day is not None
            else _local_date(instant, segment.offset, dialect)
        )
        branches.append((instant < literal(segment.hi, UTCDateTime), value))
    return case(*branches, else_=None)
