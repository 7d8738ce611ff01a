"""Load and save carts atomically: lock, version check, idempotency key, sealed payloads,
revision log. The only module that knows the cart tables.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite

from storefront import clock
from storefront.cart import codec, history
from storefront.cart import models as m
from storefront.cart.sealing import aad, keyring, opened_carts
from storefront.cart.state import EMPTY, Cart, Op
from storefront.database import begin_write
from storefront.errors import IdempotencyKeyReused, NotFound, VersionConflict
from storefront.extensions import db

# A snapshot is written once the operations since the last one outweigh the cart this many
# times over: snapshots then cost at most a quarter of the log, and a restore replays a number
# of operations bounded by the cart's size.
SNAPSHOT_FACTOR = 4

CHANGE, MERGE, RESTORE, SUPPORT = 1, 2, 3, 4
SOURCES = {CHANGE: "change", MERGE: "merge", RESTORE: "restore", SUPPORT: "support"}


@dataclass(frozen=True)
class Owner:
    """Whose cart: a signed-in user's, or a guest's (by the hash of the cookie token)."""

    user_id: int | None = None
    guest_key: bytes | None = None

    @classmethod
    def guest(cls, token: str) -> Owner:
        return cls(guest_key=hashlib.sha256(token.encode()).digest())

    @classmethod
    def user(cls, user_id: int) -> Owner:
        return cls(user_id=user_id)


@dataclass(frozen=True)
class IdempotencyKey:
    key: str
    request: bytes  # method, path and canonical JSON body of the request

    @property
    def key_hash(self) -> bytes:
        return hashlib.sha256(self.key.encode()).digest()[:16]

    @property
    def request_hash(self) -> bytes:
        return hashlib.sha256(self.request).digest()[:16]


@dataclass(frozen=True)
class Snapshot:
    cart_id: int | None
    version: int
    cart: Cart


@dataclass(frozen=True)
class Change:
    cart_id: int
    version: int
    before: Cart
    after: Cart
    op: Op | None
    replayed: bool = False  # a repeat of an idempotency key: nothing was applied


# A decision sees the locked cart and returns the operation and the cart after it, or raises.
# An operation of None changes nothing and writes no revision.
Decide = Callable[[Cart], tuple[Op | None, Cart]]


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
    if row.user_id is not None:
        return False
    days = current_app.config["GUEST_CART_DAYS"]
    return row.updated_at < clock.now() - timedelta(days=days)


def _find(owner: Owner, *, lock: bool) -> m.Cart | None:
    stmt = select(m.Cart).where(_owner_clause(owner), m.Cart.status == m.OPEN)
    if lock:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    return db.session.scalar(stmt)


def read(owner: Owner) -> Snapshot:
    row = _find(owner, lock=False)
    if row is None or _guest_expired(row):
        return Snapshot(None, 0, EMPTY)
    return Snapshot(row.id, row.version, _open_cart(row))


def last_change(owner: Owner) -> datetime | None:
    """When the owner's cart last changed, without opening it."""
    stmt = select(m.Cart.updated_at).where(_owner_clause(owner), m.Cart.status == m.OPEN)
    return db.session.scalar(stmt)


def _insert_cart(owner: Owner) -> None:
    dialect = db.session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    now = clock.now()
    stmt = insert(m.Cart).values(
        user_id=owner.user_id,
        guest_key=owner.guest_key,
        status=m.OPEN,
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
        row.status, row.guest_key = "expired", None
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
    if db.session.get(m.EncryptionKeyInUse, ring.primary_id) is None:
        db.session.add(m.EncryptionKeyInUse(key_id=ring.primary_id, first_used_at=clock.now()))
    current_app.extensions["storefront.key_registered"] = ring.primary_id


def write(
    owner: Owner,
    decide: Decide,
    *,
    source: int = CHANGE,
    device: int = 0,
    idempotency: IdempotencyKey | None = None,
    expected_version: int | None = None,
    create: bool = True,
) -> Change:
    """Run one change as one transaction; nothing is written if ``decide`` raises."""
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
        if op is not None:
            _save(row, op, after, source=source, device=device, idempotency=idempotency)
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    return Change(row.id, row.version, before, after, op)


def _save(row, op, after, *, source, device, idempotency) -> None:
    ring = keyring()
    _remember_key_in_use()
    now = clock.now()
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
            cart_id=row.id, version=row.version, at=now, source=source, device=device, op=sealed_op
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
    cart = _open_cart(row) if version == row.version else history.state_at(row.id, version)
    return Change(row.id, version, cart, cart, None, replayed=True)


def take_guest_cart(guest: Owner) -> Cart:
    """Inside a write: lock the guest's cart, mark it merged and return what it held.

    The row is kept (status ``merged``) so support can still see it, but the guest's cookie
    opens nothing any more.
    """
    row = _lock(guest, create=False)
    if row is None:
        return EMPTY
    row.status = m.MERGED
    return _open_cart(row)


def adopt(guest: Owner, user_id: int) -> None:
    """A new account takes over the guest's cart as it is (registration)."""
    begin_write()
    row = _find(guest, lock=True)
    if row is not None and not _guest_expired(row):
        row.user_id, row.guest_key = user_id, None
    db.session.commit()


def user_cart_ids(user_id: int) -> list[int]:
    return list(db.session.scalars(select(m.Cart.id).where(m.Cart.user_id == user_id)))


def forget_decoded(cart_ids: Iterable[int]) -> None:
    """Deleted carts: their decoded copies leave this process now, not when they age out.
    (Other instances' copies age out; they can never be served, being keyed by sealed bytes
    that no row holds any more.)"""
    opened_carts().discard(cart_ids)
