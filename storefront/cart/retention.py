"""Forgetting on purpose: expired guest carts, history past the window, old idempotency keys,
analytics events past STOREFRONT_ANALYTICS_DAYS (storefront/analytics/retention.py).

Small batches, each its own short transaction, so the shop keeps serving while it runs. Pruning
one cart's history takes that cart's write lock, like any change, so no write is lost, and it
first writes a snapshot at the boundary so every revision still in the window can be rebuilt.
Account carts' current state is never touched.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import and_, delete, func, select

from storefront import clock
from storefront.analytics import retention as analytics_retention
from storefront.cart import codec, lifetime, store
from storefront.cart import models as m
from storefront.cart.sealing import aad, keyring
from storefront.database import begin_write
from storefront.extensions import db

BATCH = 200
# Remembered well past the 24 hours the contract promises.
IDEMPOTENCY_KEEP = timedelta(hours=48)


@dataclass
class Summary:
    guest_carts: int = 0
    revisions: int = 0
    snapshots: int = 0
    idempotency_keys: int = 0
    commerce_events: int = 0

    def line(self) -> str:
        return (
            f"cleanup: {self.guest_carts} expired guest carts removed, {self.revisions} revisions "
            f"and {self.snapshots} snapshots pruned, {self.idempotency_keys} idempotency keys "
            f"forgotten, {self.commerce_events} analytics events past retention deleted"
        )


def _batches(ids: list, size: int = BATCH) -> Iterator[list]:
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


def expired_guest_cart_ids() -> list[int]:
    cutoff = lifetime.guest_cart_cutoff()
    return list(
        db.session.scalars(
            select(m.Cart.id).where(m.Cart.user_id.is_(None), m.Cart.updated_at < cutoff)
        )
    )


def remove_guest_carts(ids: list[int]) -> int:
    """Delete these guest carts if they are still expired (a change since renews them)."""
    cutoff = lifetime.guest_cart_cutoff()
    begin_write()
    stale = and_(m.Cart.id.in_(ids), m.Cart.user_id.is_(None), m.Cart.updated_at < cutoff)
    # History rows go with their cart (foreign keys cascade); deleted explicitly as well so a
    # database without enforced foreign keys is left clean too.
    doomed = select(m.Cart.id).where(stale).scalar_subquery()
    for table in (m.IdempotencyRecord, m.CartSnapshot, m.CartRevision):
        db.session.execute(delete(table).where(table.cart_id.in_(doomed)))
    removed = db.session.execute(delete(m.Cart).where(stale)).rowcount
    db.session.commit()
    store.forget_decoded(ids)  # a renewed cart among them only costs a decode
    return removed


def carts_with_old_history() -> list[int]:
    return list(
        db.session.scalars(
            select(m.CartRevision.cart_id)
            .where(m.CartRevision.at < lifetime.history_cutoff())
            .distinct()
        )
    )


def prune_cart_history(cart_id: int) -> tuple[int, int]:
    """Drop revisions older than the window, keeping a snapshot at the boundary."""
    begin_write()
    row = db.session.scalar(select(m.Cart).where(m.Cart.id == cart_id).with_for_update())
    boundary = db.session.scalar(
        select(func.max(m.CartRevision.version)).where(
            m.CartRevision.cart_id == cart_id, m.CartRevision.at < lifetime.history_cutoff()
        )
    )
    if row is None or boundary is None:
        db.session.rollback()
        return 0, 0
    if db.session.get(m.CartSnapshot, (cart_id, boundary)) is None:
        state = store.state_at(cart_id, boundary)
        sealed = keyring().seal(codec.encode_cart(state), aad("snap", cart_id, boundary))
        db.session.add(m.CartSnapshot(cart_id=cart_id, version=boundary, state=sealed))
        db.session.flush()
    revisions = db.session.execute(
        delete(m.CartRevision).where(
            m.CartRevision.cart_id == cart_id, m.CartRevision.version <= boundary
        )
    ).rowcount
    snapshots = db.session.execute(
        delete(m.CartSnapshot).where(
            m.CartSnapshot.cart_id == cart_id, m.CartSnapshot.version < boundary
        )
    ).rowcount
    db.session.commit()
    return revisions, snapshots


def forget_idempotency_keys() -> int:
    cutoff = clock.now() - IDEMPOTENCY_KEEP
    total = 0
    while True:
        begin_write()
        batch = list(
            db.session.execute(
                select(m.IdempotencyRecord.cart_id, m.IdempotencyRecord.key_hash)
                .where(m.IdempotencyRecord.created_at < cutoff)
                .limit(BATCH)
            )
        )
        for cart_id, key_hash in batch:
            db.session.execute(
                delete(m.IdempotencyRecord).where(
                    m.IdempotencyRecord.cart_id == cart_id, m.IdempotencyRecord.key_hash == key_hash
                )
            )
        db.session.commit()
        total += len(batch)
        if len(batch) < BATCH:
            return total


@dataclass(frozen=True)
class Plan:
    guest_carts: list[int]
    carts_with_old_history: list[int]

    @property
    def size(self) -> int:
        return len(self.guest_carts) + len(self.carts_with_old_history)


def plan() -> Plan:
    found = Plan(expired_guest_cart_ids(), carts_with_old_history())
    db.session.commit()
    return found


def run(work: Plan, progress: Callable[[int], None] = lambda n: None) -> Summary:
    """Carry out the plan; ``progress(n)`` hears each time n more items are done."""
    summary = Summary()
    for ids in _batches(work.guest_carts):
        summary.guest_carts += remove_guest_carts(ids)
        progress(len(ids))
    for cart_id in work.carts_with_old_history:
        revisions, snapshots = prune_cart_history(cart_id)
        summary.revisions += revisions
        summary.snapshots += snapshots
        progress(1)
    summary.idempotency_keys = forget_idempotency_keys()
    summary.commerce_events = analytics_retention.prune()
    return summary
