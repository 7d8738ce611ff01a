"""Engine set-up per backend, and the write transaction that locks on both.

SQLite: WAL, a generous busy timeout, and transactions begun by us, so a writer can ask for
``BEGIN IMMEDIATE`` and take the write lock before it reads (no lost updates, no upgrade
deadlocks); writers queue for it (``writers.py``) rather than sleep in SQLite's busy handler.
PostgreSQL: writers lock the cart row with ``SELECT ... FOR UPDATE``, except most cart changes,
which run unlocked in autocommit (``autocommit_connection``).

Connections kept between writes, instead of taken from the pool and given back each time: a
SQLite writer passes its connection to the next writer of its process waiting in the queue
(``_writers_connection``), or sets it aside for the next when none waits (``_release``); a
PostgreSQL worker keeps a few connections in autocommit for the unlocked changes
(``autocommit_connection``, at most ``AUTOCOMMIT_KEPT`` and a third of its pool), and every
worker a few for reads made outside any transaction (``reading_apart``).

Every write takes its place in that queue, not only the ``begin_write`` ones: a flush or an
INSERT/UPDATE/DELETE in a session that is not queued yet queues first. Under gunicorn's gevent
worker this is what keeps the worker alive: a writer waiting in the queue yields, whereas a
writer waiting in SQLite's busy handler sleeps in C on the hub's thread, and the greenlet
holding SQLite's write lock could never run to release it.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from pathlib import Path
from typing import TypeVar

from flask import Flask, current_app
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import Session

from storefront import cooperative, prepared, writers
from storefront.extensions import db, migrate

T = TypeVar("T")
# Set while a writer begins its transaction: SQLite's BEGIN is then IMMEDIATE. (Passed as the
# connection's execution options it cost each write a dictionary merge and a call into the
# dialect, about 1.5 % of a cart add, issue 10.) Greenlets each have their own context.
_BEGIN_IMMEDIATE: ContextVar[bool] = ContextVar("storefront_begin_immediate", default=False)
CHECKPOINT_SECONDS = 1.0
# A log of more frames than this (pages of 4 KiB: 8 MiB) is started over (``_checkpoint``).
RESTART_FRAMES = 2048
WAL_SIZE_LIMIT = 64 * 1024 * 1024
# How long a restart, holding every change up, waits for reads still on the log.
RESTART_WAIT_SECONDS = 0.05
HOLDS_WRITE_LOCK = "storefront_holds_write_lock"
IDLE_SINCE = "storefront_idle_since"
IDLE_PING_SECONDS = 5.0


def init_app(app: Flask, *, migrations: Path) -> None:
    pool = pool_options(app.config["SQLALCHEMY_DATABASE_URI"], app.config["DATABASE_POOL_SIZE"])
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = {**pool, **app.config["SQLALCHEMY_ENGINE_OPTIONS"]}
    db.init_app(app)
    with app.app_context():
        configure(db.engine)
        app.extensions["storefront.dialect"] = db.engine.dialect.name
    migrate.init_app(app, db, directory=str(migrations))


def pool_options(url: str, size: int) -> dict:
    """Every connection a worker opens stays open, up to ``size``: none beyond it.

    SQLAlchemy's default pool keeps 5 and opens up to 10 more for a moment, closing each as it
    comes back while 5 wait idle. A gevent worker often has more than 5 requests in flight, so
    under load it opened and closed connections all the time: on PostgreSQL each a new server
    process (a fork, the log-in) and a first ping, 44 of them in a 5-second load run (issue 10).
    The most a worker holds is what it was (5 + 10). An in-memory SQLite database has one
    connection, shared: nothing to size."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database in (None, "", ":memory:"):
        return {}
    return {"pool_size": size, "max_overflow": 0}


def dialect_name() -> str:
    """The database kind ("sqlite", "postgresql"), known from start-up: resolving the session's
    bind to ask it took about 2 % of a cart add (issue 10)."""
    return current_app.extensions["storefront.dialect"]


def configure(engine: Engine) -> None:
    if engine.dialect.name != "sqlite":
        _ping_when_idle(engine)
        return

    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None  # pysqlite must not BEGIN on its own
        cursor = dbapi_connection.cursor()
        for pragma in (
            "journal_mode=WAL",
            "synchronous=NORMAL",
            "foreign_keys=ON",
            "busy_timeout=30000",
            # Checkpoints run in the background (below), not inside a shopper's request.
            "wal_autocheckpoint=0",
            # A log restarted from its start is cut back to this size on disk.
            f"journal_size_limit={WAL_SIZE_LIMIT}",
        ):
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()

    path = engine.url.database
    if path and path != ":memory:":
        _start_checkpointer(engine, path)

    @event.listens_for(engine, "begin")
    def on_begin(connection):
        if connection.get_execution_options().get(_AUTOCOMMIT):
            return  # each statement its own transaction, as pysqlite runs it without a BEGIN
        immediate = _BEGIN_IMMEDIATE.get()
        # Straight to sqlite3: three transactions an add, and SQLAlchemy's execution of a
        # statement costs several times what SQLite takes to begin one.
        connection.connection.driver_connection.execute("BEGIN IMMEDIATE" if immediate else "BEGIN")


def _ping_when_idle(engine: Engine) -> None:
    """A connection back from the pool is pinged first if it sat unused for IDLE_PING_SECONDS:
    one the server dropped meanwhile (a restart, a failover, an idle timeout) is replaced
    before a request uses it. One just used is not: pinging each checkout (pool_pre_ping)
    cost every cart change two round trips. Should the server drop a busy connection, the
    request using it fails and the connection is discarded; the shopper's retry (the same
    idempotency key) then applies the change once."""

    @event.listens_for(engine, "checkin")
    def checked_in(_dbapi_connection, record):
        record.info[IDLE_SINCE] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def checked_out(dbapi_connection, record, _proxy):
        since = record.info.get(IDLE_SINCE)
        if since is not None and time.monotonic() - since < IDLE_PING_SECONDS:
            return
        try:
            # The dialect's own ping: psycopg's leaves no transaction open behind it (a plain
            # SELECT would, and the connection could then not change its isolation level).
            engine.dialect.do_ping(dbapi_connection)
        except Exception as exc:
            # The pool discards this connection and checks out a fresh one.
            raise DisconnectionError(f"stale connection: {type(exc).__name__}") from exc


def begin_write() -> None:
    """Start the session's transaction as a writer (call before the first read)."""
    session = db.session()
    if session.in_transaction():
        session.commit()
    queue = _hold_write_lock(session)
    immediate = _BEGIN_IMMEDIATE.set(True)
    try:
        if queue is None:
            session.connection()
        else:
            connection = _writers_connection(queue, session.get_bind())
            session.connection(bind_arguments={"bind": connection})
    except BaseException:
        _release_write_lock(session)
        raise
    finally:
        _BEGIN_IMMEDIATE.reset(immediate)


@contextlib.contextmanager
def writers_transaction() -> Iterator[Connection | None]:
    """SQLite file: the write lock taken (in the writers' queue), the writers' connection
    (``_writers_connection``) in a ``BEGIN IMMEDIATE`` transaction, for statements run on it
    directly (``prepared.on``), not through the session; committed when the block ends, rolled
    back if it raises, and the lock (with the connection) passed on. Binding the session to
    the connection and ending the session's transaction (SQLAlchemy's bookkeeping) were about
    5 % of a cart add (issue 10). What the request wrote before is committed first. None, and
    nothing done: not a SQLite file (PostgreSQL, an in-memory database)."""
    engine = db.engine
    queue = _writer_queue(engine)
    if queue is None:
        yield None
        return
    session = db.session()
    if session.in_transaction():  # it may hold the write lock: it must not wait behind us
        session.commit()
    queue.acquire()
    try:
        connection = _writers_connection(queue, engine)
        immediate = _BEGIN_IMMEDIATE.set(True)
        try:
            transaction = connection.begin()
        finally:
            _BEGIN_IMMEDIATE.reset(immediate)
        try:
            yield connection
        except BaseException:
            transaction.rollback()
            raise
        transaction.commit()
    finally:
        _release(queue)


def write(work: Callable[[], T]) -> T:
    """``work()`` as one write transaction: committed if it returns, rolled back if it raises."""
    begin_write()
    try:
        result = work()
        db.session.commit()
        return result
    except BaseException:
        db.session.rollback()
        raise


def _hold_write_lock(session) -> writers.WriterQueue | None:
    """Queue for the database's write lock for the session's transaction (once; released when
    the transaction ends). SQLite files only: PostgreSQL locks rows."""
    held = session.info.get(HOLDS_WRITE_LOCK)
    if held is not None:
        return held
    queue = _writer_queue(session.get_bind())
    if queue is None:
        return None
    queue.acquire()
    session.info[HOLDS_WRITE_LOCK] = queue
    return queue


def _writers_connection(queue: writers.WriterQueue, engine: Engine) -> Connection:
    """The connection a writer's transaction runs on: the one the writer before it in this
    process passed on, or else the one the last writer set aside (``_release``), if it is
    still fit; else a new one from the pool. The queue passes it on to the next writer.
    Taking a connection from the pool and giving it back (a Connection made, the pool's
    checkout and checkin) was about 5 % of a cart add; writers of one process only ever
    write one at a time (issue 10)."""
    kept = queue.connection
    if kept is None:
        aside = _kept(engine, _WRITERS_KEPT)
        kept = aside.pop()[0] if aside else None
    if kept is not None:
        if kept.engine is engine and _fit(kept):
            queue.connection = kept
            return kept
        queue.connection = None
        kept.close()
    queue.connection = connection = engine.connect()
    return connection


def _release(queue: writers.WriterQueue) -> None:
    """Let the write lock go. The writers' connection no writer of this process was waiting
    for is set aside for the next one (one a worker, on its engine, if the pool is large
    enough to spare it: ``_most_kept``) rather than given back to the pool, which hands its
    connections out in turn. Besides the checkout and checkin (3 % of a cart add's Python
    calls), the next change likely writes where its page cache is still current (our reading
    of SQLite's WAL mode, not measured apart: a connection's cache goes once another has
    written). One shopper's adds over HTTP: 22 to 40 % more a second (issue 10). An idle
    SQLite connection holds no lock."""
    left = queue.release()
    if left is None:
        return
    aside = _kept(left.engine, _WRITERS_KEPT)
    if not aside and _most_kept(left.engine) > 0 and _fit(left):
        aside.append((left, time.monotonic()))
    else:
        left.close()


# How many autocommit connections a worker keeps between unlocked writes
# (``autocommit_connection``): a few, and never more than a third of its pool, so that most of
# a loaded worker's connections stay in the pool for everything else (with a pool of 1 or 2,
# none is kept).
AUTOCOMMIT_KEPT = 4


@contextlib.contextmanager
def autocommit_connection() -> Iterator[Connection]:
    """A connection in autocommit (each statement commits itself; on SQLite, ``_autocommit``),
    for statements run on it directly (``prepared.on``), not through the session. Connections
    switched to autocommit are kept for the next such block, up to AUTOCOMMIT_KEPT a worker (a
    third of its pool at most), instead of being switched back and returned to the pool: the
    switch both ways and the pool's checkout and checkin were about 5 % of an add's time on
    PostgreSQL (issue 10). One kept longer than IDLE_PING_SECONDS unused is closed and a fresh
    one taken, through the pool's ping. SQLAlchemy's own transaction on it (begun by a Core
    statement run on it: nothing at the server's end) is ended when the block ends."""
    engine = db.engine
    kept = _autocommit_kept(engine)
    connection = None
    while connection is None:
        try:  # (no check first: under threads another may take the last one meanwhile)
            candidate, since = kept.pop()
        except IndexError:
            break
        if time.monotonic() - since < IDLE_PING_SECONDS and _fit(candidate):
            connection = candidate
        else:
            candidate.close()
    if connection is None:
        connection = _autocommit(engine.connect())
    try:
        yield connection
    finally:
        if connection.in_transaction() and not connection.invalidated:
            connection.rollback()  # each statement has committed itself: nothing is undone
        if len(kept) < _most_kept(engine) and _fit(connection):
            kept.append((connection, time.monotonic()))
        else:
            connection.close()


def _autocommit(connection: Connection) -> Connection:
    if connection.dialect.name != "sqlite":
        return connection.execution_options(isolation_level="AUTOCOMMIT")
    # pysqlite already runs with no isolation level of its own (``on_connect``): SQLAlchemy's
    # AUTOCOMMIT would set the same, and put pysqlite's default back when the connection
    # returns to the pool. Only our BEGIN is left out (``on_begin``): the option is this
    # checkout's (``Connection.info`` would follow the DB-API connection back into the pool).
    return connection.execution_options(**{_AUTOCOMMIT: True})


_AUTOCOMMIT = "storefront_autocommit"


@contextlib.contextmanager
def reading_apart() -> Iterator[None]:
    """Reads run inside (``prepared``'s) go on a kept autocommit connection of their own when
    the session has no transaction, instead of opening one: after a cart change has committed
    outside the session, the one read of its fragment's render (its lines' pictures) was a pool
    check-out, a BEGIN, a ROLLBACK and a check-in around one SELECT: 151 of an htmx add's 5,393
    Python calls, 4 % of its CPU (bench/per_request.py --htmx, issue 10), on the way of every
    pushed change. Inside a transaction, the session's or the connection of an ``on`` block (a
    change's), they read in it, its own writes included."""
    if prepared.on_connection() is not None or db.session().in_transaction():
        yield
        return
    with autocommit_connection() as connection, prepared.on(connection):
        yield


def _most_kept(engine: Engine) -> int:
    size = getattr(engine.pool, "size", None)
    return min(AUTOCOMMIT_KEPT, size() // 3) if callable(size) else 0


def _fit(connection: Connection) -> bool:
    return not connection.closed and not connection.invalidated and not connection.in_transaction()


def _autocommit_kept(engine: Engine) -> list[tuple[Connection, float]]:
    return _kept(engine, _KEPT)


# The writers' connection set aside between changes (``_release``), beside the autocommit ones.
_WRITERS_KEPT = "storefront_writers_kept"


def _kept(engine: Engine, key: str) -> list[tuple[Connection, float]]:
    """Connections kept out of the pool under ``key``, with when each was put there: on the
    engine (they go with it, closed when it is disposed), per process (a forked child opens its
    own)."""
    kept = engine.__dict__.get(key)
    if kept is None or kept[0] != os.getpid():
        kept = engine.__dict__[key] = (os.getpid(), [])

        @event.listens_for(engine, "engine_disposed")
        def forget(_engine) -> None:  # connections of the pool being replaced
            while kept[1]:
                kept[1].pop()[0].close()

    return kept[1]


_KEPT = "storefront_autocommit_kept"


@event.listens_for(Session, "before_flush")
def _flushing(session, _flush_context, _instances) -> None:
    # A write that did not start with begin_write (a session renewed, a sign-in recorded) queues
    # on the same lock before its first statement reaches SQLite.
    _hold_write_lock(session)


@event.listens_for(Session, "do_orm_execute")
def _executing(state) -> None:
    if state.is_insert or state.is_update or state.is_delete:
        _hold_write_lock(state.session)


def _writer_queue(engine: Engine) -> writers.WriterQueue | None:
    path = engine.url.database
    if engine.dialect.name != "sqlite" or not path or path == ":memory:":
        return None
    return writers.queue_for(path)


def _release_write_lock(session) -> None:
    queue = session.info.pop(HOLDS_WRITE_LOCK, None)
    if queue is not None:
        _release(queue)


@event.listens_for(Session, "after_transaction_end")
def _transaction_ended(session, transaction) -> None:
    # After the COMMIT or ROLLBACK reached SQLite: the next writer finds the file free.
    if transaction.parent is None:
        _release_write_lock(session)


def _checkpoint(connection: sqlite3.Connection, path: str) -> None:
    """Copy the WAL into the database; and once it holds RESTART_FRAMES, make the next write
    start it over.

    SQLite starts the log over only when a writer finds every frame of it copied and no reader
    on it. Under a steady stream of changes that moment never comes: new frames land between
    any checkpoint and the next write, so the file grew by about 20 MB a second under the
    load bench (issue 10), for as long as the stream lasted, and every commit extended it. So
    then the checkpoint holds the writers' lock (the one the shop's writers queue for: they
    wait their turn rather than SQLite's sleeps), and a RESTART checkpoint copies what is left
    and waits for the readers still on the log, a moment (reads are short), at most
    RESTART_WAIT_SECONDS: a read that lasts longer only puts the restart off."""
    _busy, frames, copied = cooperative.blocking(_run_checkpoint, connection, "PASSIVE")
    if frames < RESTART_FRAMES or copied < frames:
        # Small; or a read began before the last frames (a long one: an export, a backup):
        # waiting for it would hold every change up. Next round.
        return
    queue = writers.queue_for(path)
    queue.acquire()
    try:
        cooperative.blocking(_run_checkpoint, connection, "RESTART")
    finally:
        _release(queue)


def checkpoint_connection(path: str) -> sqlite3.Connection:
    # The timeout is a RESTART's wait for reads (a PASSIVE checkpoint never waits).
    return sqlite3.connect(path, timeout=RESTART_WAIT_SECONDS, check_same_thread=False)


def _run_checkpoint(connection: sqlite3.Connection, mode: str) -> tuple[int, int, int]:
    """(busy, frames in the log, frames copied), as SQLite answers the pragma."""
    return connection.execute(f"PRAGMA wal_checkpoint({mode})").fetchone()


def _start_checkpointer(engine: Engine, path: str) -> None:
    """Copy the WAL back into the database every second, off the request path.

    A PASSIVE checkpoint never waits for readers or writers; it stops when the engine is gone.
    Started lazily per process, so it also runs in every gunicorn worker after the fork. Under
    gevent the loop is a greenlet and each checkpoint runs on a native thread
    (``cooperative.blocking``): copying pages and syncing the file must not hold up the hub.
    """
    alive = weakref.ref(engine)
    stop = threading.Event()

    def run():
        connection = checkpoint_connection(path)
        try:
            while not stop.wait(CHECKPOINT_SECONDS) and alive() is not None:
                # Busy or briefly locked: the next round catches up.
                with contextlib.suppress(sqlite3.Error, TimeoutError):
                    _checkpoint(connection, path)
        finally:
            connection.close()

    started: dict[int, threading.Thread] = {}

    @event.listens_for(engine, "connect")
    def ensure_running(_dbapi_connection, _record):
        pid = os.getpid()
        if pid not in started:
            started[pid] = threading.Thread(target=run, name="sqlite-checkpoint", daemon=True)
            started[pid].start()

    weakref.finalize(engine, stop.set)
