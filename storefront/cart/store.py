"""Load and save carts atomically: lock, version check, idempotency key, sealed payloads,
revision log. The only module that knows the cart tables.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from flask import current_app
from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite

from storefront import clock
from storefront.cart import codec, lifetime
from storefront.cart import models as m
from storefront.cart.sealing import aad, keyring, opened_carts
from storefront.cart.state import EMPTY, Cart, Op, replay
from storefront.cart.types import CartStatus, Change, IdempotencyKey, Owner, Source
from storefront.database import begin_write
from storefront.errors import IdempotencyKeyReused, NotFound, VersionConflict
from storefront.extensions import db

# A snapshot is written once the operations since the last one outweigh the cart this many
# times over: snapshots then cost at most a quarter of the log, and a restore replays a number
# of operations bounded by the cart's size.
SNAPSHOT_FACTOR = 4


@dataclass(frozen=True)
class Snapshot:
    cart_id: int | None
    version: int
    cart: Cart
    changed_at: datetime | None = None


# A decision sees the locked cart and returns the operation and the cart after it, or raises.
# An operation of None changes nothing and writes no revision.
Decide = Callable[[Cart], tuple[Op | None, Cart]]
# Runs inside the change's transaction, after its revision is written: what must commit with
# the change or not at all (a support action's audit row).
AlsoWrite = Callable[[Change], None]


def _open_cart(row: m.Cart) -> Cart:
    if row.state is None:
        return EMPTY
    carts = opened_carts()
    cart = carts.get(row.id, row.version, row.state)
    if cart is None:
        cart = codec.decode_cart(keyring().open(row.state, aad("state", row.id, row.version)))
        carts.put(row.id, row.version, row.state, cart)
    return cart


def _owner_clause(owner: Owner):
    if owner.user_id is not None:
        return m.Cart.user_id == owner.user_id
    return m.Cart.guest_key == owner.guest_key


def _guest_expired(row: m.Cart) -> bool:
    return row.user_id is None and lifetime.guest_cart_expired(row.updated_at)


def _find(owner: Owner, *, lock: bool) -> m.Cart | None:
    stmt = select(m.Cart).where(_owner_clause(owner), m.Cart.status == CartStatus.OPEN)
    if lock:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    return db.session.scalar(stmt)


def read(owner: Owner) -> Snapshot:
    row = _find(owner, lock=False)
    if row is None or _guest_expired(row):
        return Snapshot(None, 0, EMPTY)
    return Snapshot(row.id, row.version, _open_cart(row), row.updated_at)


def _insert(table):
    """INSERT for this database, with ON CONFLICT available."""
    dialect = db.session.get_bind().dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)


def _insert_cart(owner: Owner) -> None:
    now = clock.now()
    stmt = _insert(m.Cart).values(
        user_id=owner.user_id,
        guest_key=owner.guest_key,
        status=CartStatus.OPEN,
        version=0,
        ops_since_snapshot=0,
        created_at=now,
        updated_at=now,
    )
    # Two first adds racing for one guest: one row wins, both then lock it.
    db.session.execute(stmt.on_conflict_do_nothing())


def _lock(owner: Owner, *, create: bool) -> m.Cart | None:
    row = _find(owner, lock=True)
    if row is not None and _guest_expired(row):
        row.status, row.guest_key = CartStatus.EXPIRED, None
        db.session.flush()
        row = None
    if row is None and create:
        _insert_cart(owner)
        row = _find(owner, lock=True)
    return row


def _remember_key_in_use() -> None:
    ring = keyring()
    if current_app.extensions.get("storefront.key_registered") == ring.primary_id:
        return
    # Every worker of a fresh shop records the key at its first write, some at the same moment:
    # a look-then-insert let two of them insert, and the loser's change failed with a 500.
    stmt = _insert(m.EncryptionKeyInUse).values(key_id=ring.primary_id, first_used_at=clock.now())
    db.session.execute(stmt.on_conflict_do_nothing())
    current_app.extensions["storefront.key_registered"] = ring.primary_id


def write(
    owner: Owner,
    decide: Decide,
    *,
    source: Source = Source.CHANGE,
    device: int = 0,
    idempotency: IdempotencyKey | None = None,
    expected_version: int | None = None,
    create: bool = True,
    also: AlsoWrite | None = None,
) -> Change:
    """Run one change as one transaction; nothing is written if ``decide`` (or ``also``)
    raises. Every change of every cart goes through here."""
    begin_write()
    try:
        row = _lock(owner, create=create)
        if row is None:
            raise NotFound("That line is not in your cart.")
        if idempotency is not None:
            earlier = _replay(row, idempotency)
            if earlier is not None:
                db.session.rollback()
                return earlier
        if expected_version is not None and expected_version != row.version:
            raise VersionConflict(
                f"The cart is at version {row.version}, not {expected_version}; "
                "reload it and try again."
            )
        before = _open_cart(row)
        op, after = decide(before)
        now = clock.now()
        if op is not None:
            _save(row, op, after, now, source=source, device=device, idempotency=idempotency)
        change = Change(row.id, row.version, before, after, op, now, source)
        if also is not None:
            also(change)
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    return change


def _save(row, op, after, now, *, source, device, idempotency) -> None:
    ring = keyring()
    _remember_key_in_use()
    row.version += 1
    row.updated_at = now
    encoded = codec.encode_cart(after)
    row.state = ring.seal(encoded, aad("state", row.id, row.version))
    # The shopper's next request opens this very state: spare it the decoding. (Were the
    # transaction to roll back, no row would ever hold these bytes: the entry never matches.)
    opened_carts().put(row.id, row.version, row.state, after)
    sealed_op = ring.seal(codec.encode_op(op), aad("rev", row.id, row.version))
    db.session.add(
        m.CartRevision(
            cart_id=row.id,
            version=row.version,
            at=now,
            source=int(source),
            device=device,
            op=sealed_op,
        )
    )
    row.ops_since_snapshot += len(sealed_op)
    if row.ops_since_snapshot >= SNAPSHOT_FACTOR * len(row.state):
        db.session.add(
            m.CartSnapshot(
                cart_id=row.id,
                version=row.version,
                state=ring.seal(encoded, aad("snap", row.id, row.version)),
            )
        )
        row.ops_since_snapshot = 0
    if idempotency is not None:
        result = json.dumps({"version": row.version}).encode()
        db.session.add(
            m.IdempotencyRecord(
                cart_id=row.id,
                key_hash=idempotency.key_hash,
                request_hash=idempotency.request_hash,
                result=ring.seal(result, aad("idem", row.id, idempotency.key_hash.hex())),
                created_at=now,
            )
        )


def _replay(row: m.Cart, idempotency: IdempotencyKey) -> Change | None:
    record = db.session.get(m.IdempotencyRecord, (row.id, idempotency.key_hash))
    if record is None:
        return None
    if record.request_hash != idempotency.request_hash:
        raise IdempotencyKeyReused(
            "This Idempotency-Key was already used for a different request; use a new key."
        )
    bound_to = aad("idem", row.id, idempotency.key_hash.hex())
    version = json.loads(keyring().open(record.result, bound_to))["version"]
    cart = _open_cart(row) if version == row.version else state_at(row.id, version)
    return Change(row.id, version, cart, cart, None, row.updated_at, replayed=True)


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


def take_guest_cart(guest: Owner) -> Cart:
    """Inside a write: lock the guest's cart, mark it merged and return what it held.

    The row is kept (status ``merged``) so support can still see it, but the guest's cookie
    opens nothing any more.
    """
    row = _lock(guest, create=False)
    if row is None:
        return EMPTY
    row.status = CartStatus.MERGED
    return _open_cart(row)


def adopt(guest: Owner, user_id: int) -> None:
    """Inside a write: a new account takes over the guest's cart as it is (registration)."""
    row = _find(guest, lock=True)
    if row is not None and not _guest_expired(row):
        row.user_id, row.guest_key = user_id, None


def user_cart_ids(user_id: int) -> list[int]:
    return list(db.session.scalars(select(m.Cart.id).where(m.Cart.user_id == user_id)))


def forget_decoded(cart_ids: Iterable[int]) -> None:
    """Deleted carts: their decoded copies leave this process now, not when they age out.
    (Other instances' copies age out; they can never be served, being keyed by sealed bytes
    that no row holds any more.)"""
    opened_carts().discard(cart_ids)
