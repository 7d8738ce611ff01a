"""The SQLite writers' lock inside a process: handed to waiters in arrival order."""

from __future__ import annotations

import sqlite3
import threading
import time

import pytest
from sqlalchemy import select

from storefront import clock, database, writers
from storefront.accounts.models import User
from storefront.database import begin_write
from storefront.extensions import db
from storefront.writers import HandOffLock
from tests import dbs


def wait_until(condition, limit: float = 5.0) -> None:
    deadline = time.monotonic() + limit
    while not condition():
        assert time.monotonic() < deadline, "the condition never came true"
        time.sleep(0.001)


def test_waiters_get_the_lock_in_the_order_they_came():
    lock = HandOffLock()
    assert lock.acquire(1)
    order: list[int] = []

    def writer(n: int) -> None:
        assert lock.acquire(5)
        order.append(n)
        lock.release()

    threads = []
    for n in range(6):
        thread = threading.Thread(target=writer, args=(n,))
        thread.start()
        threads.append(thread)
        wait_until(lambda n=n: len(lock._waiters) == n + 1)
    lock.release()
    for thread in threads:
        thread.join(5)
    assert order == list(range(6))


def test_a_writer_arriving_at_the_release_cannot_take_the_lock_first():
    lock = HandOffLock()
    lock.acquire(1)
    got = threading.Event()
    done = threading.Event()

    def waiter() -> None:
        lock.acquire(5)
        got.set()
        done.wait(5)
        lock.release()

    thread = threading.Thread(target=waiter)
    thread.start()
    wait_until(lambda: len(lock._waiters) == 1)
    lock.release()
    assert not lock.acquire(0.05)  # handed to the waiter, even before it ran
    assert got.wait(5)
    done.set()
    thread.join(5)
    assert lock.acquire(1)  # and free again once it let go


def test_a_wait_that_times_out_leaves_the_queue():
    lock = HandOffLock()
    lock.acquire(1)
    waited = []
    thread = threading.Thread(target=lambda: waited.append(lock.acquire(0.01)))
    thread.start()
    thread.join(5)
    assert waited == [False]
    assert not lock._waiters
    lock.release()
    assert lock.acquire(0.01)


def test_a_holder_asking_for_the_lock_again_is_told_at_once_and_keeps_it():
    lock = HandOffLock()
    assert lock.acquire(1)
    started = time.monotonic()
    with pytest.raises(RuntimeError, match="already holds"):
        lock.acquire(30)
    assert time.monotonic() - started < 1
    assert not lock._waiters
    others = []
    thread = threading.Thread(target=lambda: others.append(lock.acquire(0.01)))
    thread.start()
    thread.join(5)
    assert others == [False]  # still held by its holder
    lock.release()
    assert lock.acquire(0.01)


@pytest.mark.skipif(bool(dbs.POSTGRES_URL), reason="SQLite's writers queue; PostgreSQL's do not")
def test_a_session_write_begun_inside_a_writers_transaction_fails_at_once(app):
    """It would wait for the lock its own transaction holds, for SQLite's whole busy timeout;
    the writers' transaction rolls back and the lock is free for the next change."""
    with app.app_context():
        started = time.monotonic()
        with pytest.raises(RuntimeError, match="already holds"), database.writers_transaction():
            begin_write()
        assert time.monotonic() - started < 5
        database.write(
            lambda: db.session.add(
                User(email="after@example.com", password_hash="x", created_at=clock.now())
            )
        )
        assert db.session.scalar(select(User.email).where(User.email == "after@example.com"))


@pytest.mark.skipif(bool(dbs.POSTGRES_URL), reason="SQLite's write lock; PostgreSQL locks rows")
def test_a_writer_holds_the_database_write_lock_from_its_begin_and_a_reader_does_not(app):
    with app.app_context():
        other = sqlite3.connect(db.engine.url.database, timeout=0, isolation_level=None)
        try:
            begin_write()  # nothing written yet: the lock is taken at BEGIN (IMMEDIATE)
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("BEGIN IMMEDIATE")
            db.session.commit()

            db.session.execute(select(1))  # a reader's transaction after it: a plain BEGIN
            other.execute("BEGIN IMMEDIATE")
            other.execute("ROLLBACK")
            db.session.rollback()
        finally:
            other.close()


def test_a_release_hands_what_it_passes_to_the_waiter_or_gives_it_back_with_none_waiting():
    lock = HandOffLock()
    assert lock.acquire(1)
    assert lock.release("connection") == "connection"  # nobody waiting: back to the caller
    assert lock.acquire(1)
    received = []

    def waiter() -> None:
        assert lock.acquire(5)
        received.append(lock.passed)
        lock.release()

    thread = threading.Thread(target=waiter)
    thread.start()
    wait_until(lambda: len(lock._waiters) == 1)
    assert lock.release("connection") is None
    thread.join(5)
    assert received == ["connection"]


@pytest.mark.skipif(bool(dbs.POSTGRES_URL), reason="SQLite's writers queue; PostgreSQL's do not")
def test_writers_queued_in_a_process_run_on_one_connection_and_the_last_sets_it_aside(app):
    with app.app_context():
        pool = db.engine.pool
        idle = pool.checkedout()
        queue = writers.queue_for(db.engine.url.database)
    connections = []
    first_writing, first_may_commit = threading.Event(), threading.Event()

    def writer(email: str, hold: bool) -> None:
        with app.app_context():
            begin_write()
            connections.append(db.session.connection())
            db.session.add(User(email=email, password_hash="x", created_at=clock.now()))
            db.session.flush()
            if hold:
                first_writing.set()
                assert first_may_commit.wait(5)
            db.session.commit()

    first = threading.Thread(target=writer, args=("first@example.com", True))
    first.start()
    assert first_writing.wait(5)
    second = threading.Thread(target=writer, args=("second@example.com", False))
    second.start()
    wait_until(lambda: len(queue._threads._waiters) == 1)
    first_may_commit.set()
    first.join(5)
    second.join(5)

    assert len(connections) == 2 and connections[0] is connections[1]  # passed on
    with app.app_context():
        # The last writer set it aside for the next one, instead of back to the pool.
        assert database._kept(db.engine, database._WRITERS_KEPT)[0][0] is connections[0]
        assert pool.checkedout() == idle + 1
        emails = db.session.scalars(select(User.email).order_by(User.email)).all()
        assert {"first@example.com", "second@example.com"} <= set(emails)
