"""Load and save carts atomically: lock, version check, idempotency key, sealed payloads,
revision log. The only module that knows the cart tables.

Every statement here is a Core statement built once (``_Statements``) and executed with bound
parameters: no ORM objects, no unit of work, and SQLAlchemy computes each statement's cache key
once per process instead of once per execution. Through the ORM an add spent most of its
database time in SQLAlchemy rather than in the database (measured: a cart row read through
the ORM 150 us, the same read as a prepared Core statement 34 us), and the add's CPU bounds
the shop's throughput.
"""

from __future__ import annotations

import json
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Collection, Iterable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from datetime import datetime
from functools import cache

from flask import current_app
from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError

from storefront import clock, metrics
from storefront.analytics import cart_events, events
from storefront.analytics.kinds import EventKind
from storefront.cart import codec, lifetime
from storefront.cart import models as m
from storefront.cart.sealing import aad, keyring, opened_carts
from storefront.cart.state import EMPTY, Cart, Op, replay
from storefront.cart.types import CartStatus, Change, IdempotencyKey, Owner, Source
from storefront.catalog import services as catalog
from storefront.database import (
    autocommit_connection,
    begin_write,
    dialect_name,
    writers_transaction,
)
from storefront.errors import IdempotencyKeyReused, NotFound, VersionConflict
from storefront.extensions import db
from storefront.prepared import (
    GUARD_FAILED,
    NotTogether,
    Prepared,
    can_guard,
    on,
    on_connection,
    together,
)

log = logging.getLogger(__name__)

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
    # The first revision this reader may see: a shared cart's member sees none from before
    # sharing began.
    visible_from: int = 0


# A decision sees the cart and returns the operation and the cart after it, or raises. An
# operation of None changes nothing and writes no revision. On PostgreSQL it may see the cart
# as read without a lock and run again, under the lock, if another change came first: it must
# do nothing but decide.
Decide = Callable[[Cart], tuple[Op | None, Cart]]
# Runs inside the change's transaction, after its revision is written: what must commit with
# the change or not at all (a support action's audit row).
AlsoWrite = Callable[[Change], None]
# Runs once the change is written, while its connection is at hand: reads that answering the
# change needs (inside the transaction when the cart is locked; on PostgreSQL's unlocked way
# the change has committed already, so never a write).
ReadAfter = Callable[[Change], None]
# The SKUs whose catalog rows a decision will read, given the cart as this process last saw it
# (None: not seen): on PostgreSQL's unlocked way they are read with the cart row, in its
# round trip. A guess that misses one only costs the decision a look-up of its own.
ReadAlong = Callable[[Cart | None], Collection[str]]


_CARTS = m.Cart.__table__
_REVISIONS = m.CartRevision.__table__
_SNAPSHOTS = m.CartSnapshot.__table__
_IDEMPOTENCY = m.IdempotencyRecord.__table__


@dataclass(slots=True)
class _CartRow:
    """The columns of a cart row that a change reads and writes."""

    id: int
    user_id: int | None
    version: int
    state: bytes | None
    ops_since_snapshot: int
    updated_at: datetime
    member_user_id: int | None
    shared_from: int | None
    # Not written yet: the owner's first change writes it (PostgreSQL's unlocked way).
    new: bool = False

    @property
    def sharers(self) -> tuple[int, ...]:
        return () if self.member_user_id is None else (self.user_id, self.member_user_id)

    def visible_from(self, owner: Owner) -> int:
        member = owner.user_id is not None and owner.user_id == self.member_user_id
        # The revisions after the one the cart was at when the member joined.
        return (self.shared_from or 0) + 1 if member else 0


def _find_statement(*, by: str, lock: bool):
    c = _CARTS.c
    owner = {"user": c.user_id, "guest": c.guest_key, "member": c.member_user_id}[by]
    stmt = select(
        c.id,
        c.user_id,
        c.version,
        c.state,
        c.ops_since_snapshot,
        c.updated_at,
        c.member_user_id,
        c.shared_from,
    ).where(owner == bindparam("owner"), c.status == CartStatus.OPEN)
    return stmt.with_for_update() if lock else stmt


class _Statements:
    """Built once, run on the driver's cursor (``storefront/prepared.py``)."""

    find = {
        (by, lock): Prepared(_find_statement(by=by, lock=lock))
        for by in ("user", "guest", "member")
        for lock in (False, True)
    }
    # PostgreSQL's unlocked way: the cart row and, in its last column, the products bound to
    # ``skus`` (``catalog.rows_along``).
    find_along = {
        by: Prepared(_find_statement(by=by, lock=False).add_columns(catalog.rows_along()))
        for by in ("user", "guest", "member")
    }
    # PostgreSQL's unlocked way, an owner with no open cart yet: the id its row will have (its
    # state is sealed to it), taken before the row is written, with the products as above.
    new_cart_id = Prepared(select(func.nextval(func.pg_get_serial_sequence("carts", "id"))))
    new_cart_id_along = Prepared(new_cart_id.statement.add_columns(catalog.rows_along()))
    # The row, written by the first change in the same statement as its revision: a first
    # change of the same owner's that came first (the unique guest_key or user_id) fails it.
    insert_cart = Prepared(insert(_CARTS).returning(_CARTS.c.id))
    # Bound parameters named after no column: an UPDATE's SET takes the column names.
    update_cart = Prepared(update(_CARTS).where(_CARTS.c.id == bindparam("cart_id_")))
    # A change written without the row locked (``_unlocked``): only onto the row as it
    # was read, still open and still whose it was (a merge, an adoption or a sharing begun
    # meanwhile changes no version).
    update_cart_if_unchanged = Prepared(
        update(_CARTS)
        .where(
            _CARTS.c.id == bindparam("cart_id_"),
            _CARTS.c.version == bindparam("version_read"),
            _CARTS.c.status == CartStatus.OPEN,
            _CARTS.c.user_id.is_not_distinct_from(bindparam("user_id_read")),
            _CARTS.c.guest_key.is_not_distinct_from(bindparam("guest_key_read")),
            _CARTS.c.member_user_id.is_not_distinct_from(bindparam("member_read")),
        )
        .returning(_CARTS.c.id)
    )
    insert_revision = Prepared(insert(_REVISIONS))
    insert_snapshot = Prepared(insert(_SNAPSHOTS))
    insert_idempotency = Prepared(insert(_IDEMPOTENCY))
    remembered = Prepared(
        select(_IDEMPOTENCY.c.request_hash, _IDEMPOTENCY.c.result).where(
            _IDEMPOTENCY.c.cart_id == bindparam("cart_id"),
            _IDEMPOTENCY.c.key_hash == bindparam("key_hash"),
        )
    )


def _open_cart(row: _CartRow) -> Cart:
    if row.state is None:
        return EMPTY
    carts = opened_carts()
    cart = carts.get(row.id, row.version, row.state)
    if cart is None:
        cart = codec.decode_cart(keyring().open(row.state, aad("state", row.id, row.version)))
        carts.put(row.id, row.version, row.state, cart)
    return cart


def _guest_expired(row: _CartRow) -> bool:
    return row.user_id is None and lifetime.guest_cart_expired(row.updated_at)


def _find(owner: Owner, *, lock: bool) -> _CartRow | None:
    found = _found(owner, lambda by, params: _Statements.find[(by, lock)].first(params))
    return None if found is None else _CartRow(*found)


def _find_along(owner: Owner, skus: Collection[str]) -> tuple[_CartRow | None, list | None]:
    """The cart row, unlocked, and the catalog rows of ``skus`` read in the same statement."""
    listed = sorted(set(skus))
    found = _found(
        owner, lambda by, params: _Statements.find_along[by].first({**params, "skus": listed})
    )
    if found is None:
        return None, None
    *row, products = found
    return _CartRow(*row), products


def _new_row(owner: Owner, skus: Collection[str]) -> tuple[_CartRow, list | None]:
    """The row of a cart ``owner`` does not have yet, to be written by its first change, and
    the catalog rows of ``skus`` read in the same statement."""
    if skus:
        cart_id, products = _Statements.new_cart_id_along.first({"skus": sorted(set(skus))})
    else:
        (cart_id,), products = _Statements.new_cart_id.first({}), None
    row = _CartRow(cart_id, owner.user_id, 0, None, 0, clock.now(), None, None, new=True)
    return row, products


def _found(owner: Owner, first: Callable[[str, dict], tuple | None]) -> tuple | None:
    if owner.user_id is None:
        return first("guest", {"owner": owner.guest_key})
    found = first("user", {"owner": owner.user_id})
    if found is None:
        # A member's own cart is set aside while they share another's: only then, or for an
        # account with no cart yet, is the shared cart looked for (one more indexed lookup).
        # An account with its own open cart pays nothing for sharing.
        found = first("member", {"owner": owner.user_id})
    return found


class _CartsOf:
    """Which cart each owner's last change in this process was to (least recently used
    forgotten first): what ``ReadAlong`` is given is that cart as this process holds it."""

    SIZE = 4096

    def __init__(self):
        self._ids: OrderedDict[Owner, int] = OrderedDict()
        self._lock = threading.Lock()

    def seen(self, owner: Owner, cart_id: int) -> None:
        with self._lock:
            self._ids[owner] = cart_id
            self._ids.move_to_end(owner)
            if len(self._ids) > self.SIZE:
                self._ids.popitem(last=False)

    def last(self, owner: Owner) -> Cart | None:
        cart_id = self._ids.get(owner)
        return None if cart_id is None else opened_carts().newest(cart_id)


_carts_of = _CartsOf()


def _update_cart(cart_id: int, **values) -> None:
    _Statements.update_cart.execute({"cart_id_": cart_id, **values})


def read(owner: Owner) -> Snapshot:
    row = _find(owner, lock=False)
    if row is None or _guest_expired(row):
        return Snapshot(None, 0, EMPTY)
    return Snapshot(row.id, row.version, _open_cart(row), row.updated_at, row.visible_from(owner))


@cache
def _insert_for(dialect: str, table):
    """INSERT for this database, with ON CONFLICT available."""
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)


def _insert(table):
    return _insert_for(dialect_name(), table)


@cache
def _insert_cart_statement(dialect: str):
    # Two first adds racing for one guest: one row wins, both then lock it.
    return _insert_for(dialect, _CARTS).on_conflict_do_nothing()


def _insert_cart(owner: Owner) -> None:
    now = clock.now()
    stmt = _insert_cart_statement(dialect_name())
    (on_connection() or db.session.connection()).execute(
        stmt,
        {
            "user_id": owner.user_id,
            "guest_key": owner.guest_key,
            "status": CartStatus.OPEN,
            "version": 0,
            "ops_since_snapshot": 0,
            "created_at": now,
            "updated_at": now,
        },
    )


def _lock(owner: Owner, *, create: bool) -> _CartRow | None:
    row = _find(owner, lock=True)
    if row is not None and _guest_expired(row):
        _update_cart(row.id, status=CartStatus.EXPIRED, guest_key=None)
        row = None
    if row is None and create:
        _insert_cart(owner)
        row = _find(owner, lock=True)
    return row


def remember_key_in_use() -> None:
    """Inside a write that seals something: record the primary key as in use, so start-up
    refuses to run without it (every sealed table's writer calls this, not only the cart's)."""
    ring = keyring()
    if current_app.extensions.get("storefront.key_registered") == ring.primary_id:
        return
    # Every worker of a fresh shop records the key at its first write, some at the same moment:
    # a look-then-insert let two of them insert, and the loser's change failed with a 500.
    stmt = _insert(m.EncryptionKeyInUse).values(key_id=ring.primary_id, first_used_at=clock.now())
    # At once, on the connection the change runs on (``prepared.on``), if it runs on one: not
    # among the writes ``together`` sends as one.
    connection = on_connection()
    (db.session if connection is None else connection).execute(stmt.on_conflict_do_nothing())
    current_app.extensions["storefront.key_registered"] = ring.primary_id


def guest_channel(cart_id: int | None) -> str | None:
    """The live channel of the guest whose cart this is (None: an account's cart, or one that
    is gone or expired): where that guest's pages listen, and who their events name."""
    if cart_id is None:
        return None
    guest_key = db.session.scalar(select(m.Cart.guest_key).where(m.Cart.id == cart_id))
    return Owner(guest_key=guest_key).channel if guest_key else None


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
    read_after: ReadAfter | None = None,
    read_along: ReadAlong | None = None,
) -> Change:
    """Run one change atomically; nothing is written if ``decide`` (or ``also``) raises. Every
    change of every cart goes through here."""
    timing = metrics.cart_timer()
    how = dict(
        source=source, device=device, idempotency=idempotency, expected_version=expected_version
    )
    change = None
    if also is None and dialect_name() == "postgresql":
        with _outside_transaction():
            change = _unlocked(owner, decide, timing, read_after, read_along, create, **how)
    elif also is None:
        with writers_transaction() as connection:
            if connection is not None:
                with on(connection):
                    change = _locked(owner, decide, timing, create, read_after, None, **how)
        if change is not None:
            timing.mark("commit")
    if change is None:  # the session's way
        begin_write()
        try:
            change = _locked(owner, decide, timing, create, read_after, also, **how)
            if change.replayed:
                db.session.rollback()
            else:
                db.session.commit()
                timing.mark("commit")
        except BaseException:
            db.session.rollback()
            raise
    if not change.replayed:
        metrics.cart_committed(timing, change.op, len(change.after))
    return change


def _locked(
    owner: Owner,
    decide: Decide,
    timing,
    create: bool,
    read_after: ReadAfter | None,
    also: AlsoWrite | None,
    **how,
) -> Change:
    """The change decided on the cart row locked (PostgreSQL: FOR UPDATE; SQLite: the
    writer's transaction) and written, inside the caller's transaction."""
    row = _lock(owner, create=create)
    timing.mark("lock")
    if row is None:
        raise NotFound("That line is not in your cart.")
    if dialect_name() == "postgresql":
        _carts_of.seen(owner, row.id)
    change = _change(row, owner, decide, timing, guarded=False, **how)
    if change.replayed:
        return change
    if also is not None:
        also(change)
    if read_after is not None:
        read_after(change)
    timing.mark("write")
    return change


@contextmanager
def _outside_transaction() -> Iterator[None]:
    """Inside, the prepared statements run on a connection in autocommit, outside the session
    (``prepared.on``). What the request wrote so far is committed first, so that the change
    sees it; a transaction the session began meanwhile (a read through the ORM) is ended
    after."""
    session = db.session()
    if session.in_transaction():
        session.commit()
    try:
        with autocommit_connection() as connection, on(connection):
            yield
    finally:
        if session.in_transaction():
            session.commit()


def _unlocked(
    owner: Owner,
    decide: Decide,
    timing,
    read_after: ReadAfter | None,
    read_along: ReadAlong | None,
    create: bool,
    **how,
) -> Change | None:
    """PostgreSQL, most changes (in ``_outside_transaction``): the cart read without a lock,
    with the products the decision reads (``read_along``), and the change written as one
    statement that applies only if the cart row is still the one read (its version, still
    open), each statement on its own. An add is then two round trips instead of five (no BEGIN,
    no COMMIT, no product read of its own) and holds no row lock (issue 10). An owner with no
    open cart (``create``) has its row written by the change's statement, its id and the
    products read first: three round trips instead of eight, for every shopper's first add.
    None: not this way (an expired guest cart, no cart and ``create`` false, a write that
    cannot go as one statement, or another change came first, a first change of the same
    owner's included); the caller then takes the lock and decides again, so a race costs a
    retry, never an update."""
    # Autocommit: each statement commits itself, so a way out (None, or raising) leaves nothing
    # to roll back.
    if not can_guard():  # statements traced one by one
        return None
    skus = () if read_along is None else read_along(_carts_of.last(owner))
    products = None

    def along():  # the decision and the reads after it look products up among those read
        return catalog.read_along(skus, products) if skus else nullcontext()

    try:
        if skus:
            row, products = _find_along(owner, skus)
        else:
            row = _find(owner, lock=False)
        if row is None and create:
            row, products = _new_row(owner, skus)
        timing.mark("lock")
        if row is None or _guest_expired(row):
            return None
        with along():
            change = _change(row, owner, decide, timing, guarded=True, **how)
        _carts_of.seen(owner, row.id)
        timing.mark("write")
    except NotTogether:
        return None
    except DBAPIError as exc:
        if getattr(exc.orig, "sqlstate", None) not in _LOST_RACE:
            raise
        metrics.CART_RETRIES.inc()
        return None
    # Written and committed: from here on nothing may decide it again, or fail it.
    if read_after is not None and not change.replayed:
        try:
            with along():
                read_after(change)
        except Exception as exc:  # the answer's description reads for itself after
            log.warning("cart: a read after an unlocked change failed (%s)", type(exc).__name__)
    timing.mark("commit")
    return change


# The guarded write failed: its cart row had moved on (GUARD_FAILED), or its revision or
# idempotency record was written meanwhile by another change (unique_violation).
_LOST_RACE = frozenset({GUARD_FAILED, "23505"})


def _change(
    row: _CartRow,
    owner: Owner,
    decide: Decide,
    timing,
    *,
    guarded: bool,
    source: Source,
    device: int,
    idempotency: IdempotencyKey | None,
    expected_version: int | None,
) -> Change:
    """Decide the change on the cart in ``row`` and write it (with ``guarded``: as one
    statement that applies only while the row is unchanged)."""
    if idempotency is not None:
        earlier = _replay(row, idempotency)
        if earlier is not None:
            return earlier
    if expected_version is not None and expected_version != row.version:
        raise VersionConflict(
            f"The cart is at version {row.version}, not {expected_version}; "
            "reload it and try again."
        )
    before = _open_cart(row)
    op, after = decide(before)
    timing.mark("decide")
    now = clock.now()
    # Only a shared cart records who acted (support acts for the shopper, as no one of them).
    actor = owner.user_id if row.sharers and source is not Source.SUPPORT else None
    version = row.version
    if op is not None:
        # The cart row, its revision (and snapshot, idempotency record) and its events:
        # one round trip on PostgreSQL.
        with together(guarded=guarded):
            _save(
                row,
                op,
                after,
                now,
                source=source,
                device=device,
                idempotency=idempotency,
                actor=actor,
                guarded=guarded,
                # Found by it (a guest), or none (an account's cart).
                guest_key=owner.guest_key if owner.user_id is None else None,
            )
            cart_events.record_change(
                owner, before, after, op, source=source, device=device, at=now
            )
        version = row.version
    return Change(row.id, version, before, after, op, now, source, actor=actor, sharers=row.sharers)


def _save(
    row: _CartRow,
    op,
    after,
    now,
    *,
    source,
    device,
    idempotency,
    actor,
    guarded=False,
    guest_key: bytes | None = None,
) -> None:
    ring = keyring()
    remember_key_in_use()
    version_read = row.version
    row.version += 1
    row.updated_at = now
    encoded = codec.encode_cart(after)
    row.state = ring.seal(encoded, aad("state", row.id, row.version))
    sealed_op = ring.seal(codec.encode_op(op), aad("rev", row.id, row.version))
    row.ops_since_snapshot += len(sealed_op)
    snapshot = row.ops_since_snapshot >= SNAPSHOT_FACTOR * len(row.state)
    if snapshot:
        row.ops_since_snapshot = 0
    saved = {
        "version": row.version,
        "updated_at": now,
        "state": row.state,
        "ops_since_snapshot": row.ops_since_snapshot,
    }
    if row.new:
        _Statements.insert_cart.execute(
            {
                "id": row.id,
                "user_id": row.user_id,
                "guest_key": guest_key,
                "status": CartStatus.OPEN,
                "created_at": now,
                **saved,
            }
        )
    elif guarded:
        _Statements.update_cart_if_unchanged.execute(
            {
                "cart_id_": row.id,
                "version_read": version_read,
                "user_id_read": row.user_id,
                "guest_key_read": guest_key,
                "member_read": row.member_user_id,
                **saved,
            }
        )
    else:
        _update_cart(row.id, **saved)
    # The shopper's next request opens this very state: spare it the decoding. (Were the
    # transaction to roll back, no row would ever hold these bytes: the entry never matches.)
    opened_carts().put(row.id, row.version, row.state, after)
    _Statements.insert_revision.execute(
        {
            "cart_id": row.id,
            "version": row.version,
            "at": now,
            "source": int(source),
            "device": device,
            "op": sealed_op,
            "actor_id": actor,
        },
    )
    if snapshot:
        _Statements.insert_snapshot.execute(
            {
                "cart_id": row.id,
                "version": row.version,
                "state": ring.seal(encoded, aad("snap", row.id, row.version)),
            },
        )
    if idempotency is not None:
        result = json.dumps({"version": row.version}).encode()
        _Statements.insert_idempotency.execute(
            {
                "cart_id": row.id,
                "key_hash": idempotency.key_hash,
                "request_hash": idempotency.request_hash,
                "result": ring.seal(result, aad("idem", row.id, idempotency.key_hash.hex())),
                "created_at": now,
            },
        )


def _replay(row: _CartRow, idempotency: IdempotencyKey) -> Change | None:
    record = _Statements.remembered.first({"cart_id": row.id, "key_hash": idempotency.key_hash})
    if record is None:
        return None
    request_hash, result = record
    if request_hash != idempotency.request_hash:
        raise IdempotencyKeyReused(
            "This Idempotency-Key was already used for a different request; use a new key."
        )
    bound_to = aad("idem", row.id, idempotency.key_hash.hex())
    version = json.loads(keyring().open(result, bound_to))["version"]
    cart = _open_cart(row) if version == row.version else state_at(row.id, version)
    return Change(
        row.id, version, cart, cart, None, row.updated_at, replayed=True, sharers=row.sharers
    )


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
class LoggedChange:
    """One revision read back from the log: what it did to the cart."""

    version: int
    at: datetime
    source: Source
    device: int
    op: Op
    before: Cart
    after: Cart


def logged_changes(cart_id: int, since: datetime, until: datetime) -> Iterable[LoggedChange]:
    """The cart's revisions still held from ``since`` to ``until`` (excluded), in order, each
    with the cart before and after it (for ``analytics verify``)."""
    ring = keyring()
    rows = db.session.execute(
        select(_REVISIONS.c.version, _REVISIONS.c.at, _REVISIONS.c.source, _REVISIONS.c.device)
        .where(
            _REVISIONS.c.cart_id == cart_id,
            _REVISIONS.c.at >= since,
            _REVISIONS.c.at < until,
        )
        .order_by(_REVISIONS.c.version)
    ).all()
    if not rows:
        return
    # The log is contiguous from the first revision held (pruning keeps a snapshot just before).
    cart = state_at(cart_id, rows[0].version - 1)
    sealed = dict(
        db.session.execute(
            select(_REVISIONS.c.version, _REVISIONS.c.op).where(
                _REVISIONS.c.cart_id == cart_id,
                _REVISIONS.c.version.between(rows[0].version, rows[-1].version),
            )
        ).all()
    )
    for version, at, source, device in rows:
        op = codec.decode_op(ring.open(sealed[version], aad("rev", cart_id, version)))
        after = replay(cart, (op,))
        yield LoggedChange(version, at, Source(source), device, op, cart, after)
        cart = after


def take_guest_cart(guest: Owner) -> Cart:
    """Inside a write: lock the guest's cart, mark it merged and return what it held.

    The row is kept (status ``merged``) so support can still see it, but the guest's cookie
    opens nothing any more.
    """
    row = _lock(guest, create=False)
    if row is None:
        return EMPTY
    _update_cart(row.id, status=CartStatus.MERGED)
    return _open_cart(row)


def adopt(guest: Owner, user_id: int) -> None:
    """Inside a write: a new account takes over the guest's cart as it is (registration)."""
    row = _find(guest, lock=True)
    if row is not None and not _guest_expired(row):
        _update_cart(row.id, user_id=user_id, guest_key=None)
        # For the analytics, as a merge: the guest's cart is the account's from now on.
        units = _open_cart(row).item_count
        events.record(
            EventKind.MERGED,
            Owner.user(user_id).channel,
            peer_channel=guest.channel,
            quantity=units,
            cart_units=units,
        )


def user_cart_ids(user_id: int) -> list[int]:
    return list(db.session.scalars(select(m.Cart.id).where(m.Cart.user_id == user_id)))


def forget_decoded(cart_ids: Iterable[int]) -> None:
    """Deleted carts: their decoded copies leave this process now, not when they age out.
    (Other instances' copies age out; they can never be served, being keyed by sealed bytes
    that no row holds any more.)"""
    opened_carts().discard(cart_ids)
