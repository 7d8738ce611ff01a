"""Reading a cart's past: the timeline, and the cart as it was at any kept revision."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import select

from storefront import clock
from storefront.cart import codec
from storefront.cart import models as m
from storefront.cart.sealing import aad, keyring
from storefront.cart.state import EMPTY, Cart, Op, replay
from storefront.extensions import db


def state_at(cart_id: int, version: int) -> Cart:
    """The cart as it was right after revision ``version``: nearest snapshot, then the log."""
    ring = keyring()
    snap = db.session.scalar(
        select(m.CartSnapshot)
        .where(m.CartSnapshot.cart_id == cart_id, m.CartSnapshot.version <= version)
        .order_by(m.CartSnapshot.version.desc())
        .limit(1)
    )
    start, cart = 0, EMPTY
    if snap is not None:
        start = snap.version
        cart = codec.decode_cart(ring.open(snap.state, aad("snap", cart_id, snap.version)))
    ops = db.session.execute(
        select(m.CartRevision.version, m.CartRevision.op)
        .where(
            m.CartRevision.cart_id == cart_id,
            m.CartRevision.version > start,
            m.CartRevision.version <= version,
        )
        .order_by(m.CartRevision.version)
    )
    return replay(cart, (codec.decode_op(ring.open(op, aad("rev", cart_id, v))) for v, op in ops))


@dataclass(frozen=True)
class Revision:
    version: int
    at: datetime
    source: int
    device: int
    op: Op


def _history_cutoff() -> datetime:
    return clock.now() - timedelta(days=current_app.config["HISTORY_DAYS"])


def history(cart_id: int, *, before: int | None, limit: int) -> list[Revision]:
    """Revisions still restorable, newest first."""
    ring = keyring()
    stmt = select(m.CartRevision).where(
        m.CartRevision.cart_id == cart_id, m.CartRevision.at >= _history_cutoff()
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
        )
        for r in rows
    ]


def restorable(cart_id: int, version: int) -> bool:
    """A revision can be restored while its row is kept and younger than the history window.
    Version 0 (the empty cart before the first change) counts while revision 1 does."""
    row = db.session.get(m.CartRevision, (cart_id, max(version, 1)))
    return row is not None and row.at >= _history_cutoff()
