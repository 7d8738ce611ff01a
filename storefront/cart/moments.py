"""The cart as it was at a moment ("as it was at 14:05 yesterday"): which revision held then,
and whether the moment lies in the history window.

A moment is answered by the last revision made at or before it. That revision may be older
than the window while its state lasted into it: cleanup then has kept a snapshot of it at the
boundary, which is the answer once its revision row is gone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import func, select

from storefront import clock
from storefront.cart import lifetime, store, views
from storefront.cart import models as m
from storefront.cart.types import Owner
from storefront.errors import InvalidMoment
from storefront.extensions import db

# "2026-12-01T14:05:00.123456+01:00" is 32 characters; anything much longer is not a time.
MAX_LENGTH = 40
EXAMPLE = "2026-12-01T14:05:00+01:00"


@dataclass(frozen=True)
class Moment:
    at: datetime
    revision: int  # the revision whose state held at ``at`` (0: the cart was empty)
    cart: views.CartView


def parse(raw: object) -> datetime:
    """An ISO 8601 date and time with its offset, as an aware UTC datetime, or InvalidMoment."""
    if not isinstance(raw, str) or not 0 < len(raw.strip()) <= MAX_LENGTH:
        raise InvalidMoment(f"Give the moment as an ISO 8601 date and time, like {EXAMPLE}.")
    try:
        at = datetime.fromisoformat(raw.strip())
    except ValueError:
        raise InvalidMoment(f"That is not a date and time in ISO 8601, like {EXAMPLE}.") from None
    if at.tzinfo is None or at.utcoffset() is None:
        raise InvalidMoment(
            f"Give the moment with its time zone offset (Z or +01:00), like {EXAMPLE}: "
            "without one it could be any of 24 moments."
        )
    return at.astimezone(UTC)


def parse_local(raw: object) -> datetime:
    """A date and time as a page's date-time field sends it (no offset), in the shop's time
    zone; one that carries an offset is taken as it is."""
    if isinstance(raw, str) and 0 < len(raw.strip()) <= MAX_LENGTH:
        try:
            at = datetime.fromisoformat(raw.strip())
        except ValueError:
            at = None
        if at is not None and at.tzinfo is None:
            return at.replace(tzinfo=shop_zone()).astimezone(UTC)
    return parse(raw)


def shop_zone() -> ZoneInfo:
    return ZoneInfo(current_app.config["TIME_ZONE"])


@dataclass(frozen=True)
class FormWindow:
    """The bounds of the history page's date-time field, in the shop's time zone."""

    earliest: str
    latest: str
    zone: str


def window_for_form() -> FormWindow:
    zone = shop_zone()
    # To the second, as the field takes them; the earliest second must still be inside.
    earliest = (lifetime.history_cutoff() + timedelta(seconds=1)).astimezone(zone)
    latest = clock.now().astimezone(zone)
    return FormWindow(f"{earliest:%Y-%m-%dT%H:%M:%S}", f"{latest:%Y-%m-%dT%H:%M:%S}", zone.key)


def check_in_window(at: datetime) -> datetime:
    if at > clock.now():
        raise InvalidMoment("That moment is in the future: the cart's history ends now.")
    if at < lifetime.history_cutoff():
        days = current_app.config["HISTORY_DAYS"]
        raise InvalidMoment(
            f"The cart's history goes back {days} days; pick a moment since "
            f"{lifetime.history_cutoff():%-d %B %Y, %H:%M} UTC."
        )
    return at


def version_at(cart_id: int, at: datetime) -> int:
    """The revision whose state held at ``at`` (0 when the cart was still empty)."""
    revisions = m.CartRevision
    found = db.session.scalar(
        select(func.max(revisions.version)).where(revisions.cart_id == cart_id, revisions.at <= at)
    )
    if found is not None:
        return found
    # Nothing kept that early: if cleanup pruned the revisions before the window, the snapshot
    # it kept at the boundary (below the oldest kept revision) is the state that lasted.
    oldest = db.session.scalar(
        select(func.min(revisions.version)).where(revisions.cart_id == cart_id)
    )
    boundary = select(func.max(m.CartSnapshot.version)).where(m.CartSnapshot.cart_id == cart_id)
    if oldest is not None:
        boundary = boundary.where(m.CartSnapshot.version < oldest)
    return db.session.scalar(boundary) or 0


def visible_version_at(cart_id: int, at: datetime, visible_from: int) -> int:
    """``version_at`` for a shopper who sees the cart's history from ``visible_from`` on (a
    shared cart's member): the state the cart had when they joined is theirs to see, the
    owner's cart before it is not."""
    revision = version_at(cart_id, at)
    if revision < visible_from - 1:
        raise InvalidMoment("That moment is before you joined this cart.")
    return revision


def cart_at(owner: Owner, at: datetime) -> Moment:
    """The owner's cart as it was at ``at`` (already checked), described at today's prices."""
    snap = store.read(owner)
    cart_id = snap.cart_id
    if cart_id is None:
        return Moment(at, 0, views.CartView(None, 0, ()))
    revision = visible_version_at(cart_id, at, snap.visible_from)
    past = store.state_at(cart_id, revision)
    return Moment(at, revision, views.CartView(cart_id, revision, views.line_views(past.lines)))
