"""The SQLite writers' lock inside a process: handed to waiters in arrival order."""

from __future__ import annotations

import sqlite3
import threading
import time

import pytest
from sqlalchemy import select

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
    assert not lock.acquire(0.01)
    assert not lock._waiters
    lock.release()
    assert lock.acquire(0.01)


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
