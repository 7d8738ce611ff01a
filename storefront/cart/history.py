"""A cart's past as the shopper (and support) see it: the timeline of kept revisions, each
summed up in words, and whether a revision can still be restored."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from storefront import devices
from storefront.cart import codec, lifetime, notices, store
from storefront.cart import models as m
from storefront.cart.sealing import aad, keyring
from storefront.cart.state import Op
from storefront.cart.types import Owner, Source
from storefront.cart.views import names_for
from storefront.extensions import db
from storefront.sharing import services as sharing
from storefront.sharing import words


@dataclass(frozen=True)
class Revision:
    version: int
    at: datetime
    source: int
    device: int
    op: Op
    actor: int | None = None


@dataclass(frozen=True)
class HistoryEntry:
    revision: int
    at: datetime
    summary: str
    source: str
    device: str
    by: str = ""  # who made it, while the cart was shared ("You", "Sam"); else empty


def revisions(
    cart_id: int, *, before: int | None, limit: int, visible_from: int = 0
) -> list[Revision]:
    """Revisions still restorable, newest first (from ``visible_from`` on: a shared cart's
    member sees none from before sharing began)."""
    ring = keyring()
    stmt = select(m.CartRevision).where(
        m.CartRevision.cart_id == cart_id,
        m.CartRevision.at >= lifetime.history_cutoff(),
        m.CartRevision.version >= visible_from,
    )
    if before is not None:
        stmt = stmt.where(m.CartRevision.version < before)
    rows = db.session.scalars(stmt.order_by(m.CartRevision.version.desc()).limit(limit))
    return [
        Revision(
            r.version,
            r.at,
            r.source,
            r.device,
            codec.decode_op(ring.open(r.op, aad("rev", cart_id, r.version))),
            r.actor_id,
        )
        for r in rows
    ]


def restorable(cart_id: int, version: int) -> bool:
    """A revision can be restored while its row is kept and younger than the history window.
    Version 0 (the empty cart before the first change) counts while revision 1 does."""
    row = db.session.get(m.CartRevision, (cart_id, max(version, 1)))
    return row is not None and row.at >= lifetime.history_cutoff()


def timeline(owner: Owner, *, before: int | None = None, limit: int = 50) -> list[HistoryEntry]:
    """The owner's cart's kept revisions, newest first, in words."""
    snap = store.read(owner)
    if snap.cart_id is None:
        return []
    found = revisions(snap.cart_id, before=before, limit=limit, visible_from=snap.visible_from)
    names = names_for(set().union(*(notices.skus_in(r.op) for r in found)))
    actors = sharing.names_of(r.actor for r in found if r.actor is not None)
    return [
        HistoryEntry(
            r.version,
            r.at,
            notices.revision_summary(r.op, names),
            Source(r.source).label,
            devices.label(r.device),
            words.history_by(r.actor, owner.user_id, actors),
        )
        for r in found
    ]
