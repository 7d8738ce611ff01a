"""The SQLite log (WAL) is copied back into the database in the background, and started over
once it has grown, even while reads and writes never stop."""

from __future__ import annotations

import sqlite3
import threading
import time
from contextlib import closing

import pytest

from storefront import database, writers

ROWS = 100  # each a frame at least: a log of ROWS frames or more


@pytest.fixture
def shop_file(tmp_path):
    """A database file as the shop keeps it (WAL, no checkpoints by SQLite itself), a table
    with rows and a log of a few hundred frames."""
    path = str(tmp_path / "shop.db")
    connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA wal_autocheckpoint=0")
    connection.execute(f"PRAGMA journal_size_limit={database.WAL_SIZE_LIMIT}")
    connection.execute("CREATE TABLE t (x BLOB)")
    for _ in range(ROWS):
        connection.execute("INSERT INTO t VALUES (randomblob(3000))")
    yield path, connection
    connection.close()


def frames_in_log(path: str) -> int:
    """(Itself a checkpoint: only once the test is done.)"""
    with closing(sqlite3.connect(path)) as probe:
        return probe.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()[1]


def write_as_the_shop(path: str, connection: sqlite3.Connection) -> None:
    """One change, queued for the writers' lock as the shop's writers are."""
    queue = writers.queue_for(path)
    queue.acquire()
    try:
        connection.execute("BEGIN IMMEDIATE")
        connection.execute("INSERT INTO t VALUES (randomblob(3000))")
        connection.execute("COMMIT")
    finally:
        queue.release()


def reading(path: str) -> sqlite3.Connection:
    """A read under way on the log as it is now (another request's)."""
    reader = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    reader.execute("BEGIN")
    assert reader.execute("SELECT count(*) FROM t").fetchone()[0] >= ROWS
    return reader


def test_a_grown_log_is_started_over_though_a_read_was_on_it(shop_file, monkeypatch):
    path, connection = shop_file
    monkeypatch.setattr(database, "RESTART_FRAMES", ROWS // 2)
    reader = reading(path)
    checkpointer = sqlite3.connect(path, timeout=5, check_same_thread=False)
    done = threading.Event()
    wrote = threading.Event()

    def checkpoint():
        database._checkpoint(checkpointer, path)
        done.set()

    def write():
        write_as_the_shop(path, connection)
        wrote.set()

    threading.Thread(target=checkpoint).start()
    # It waits for the read to leave the log, holding the writers' lock meanwhile: a change
    # queues behind it instead of adding frames it would have to wait for too.
    assert not done.wait(0.3)
    writer = threading.Thread(target=write)
    writer.start()
    assert not wrote.wait(0.3)
    reader.execute("COMMIT")
    assert done.wait(5)
    assert wrote.wait(5)
    writer.join(5)
    checkpointer.close()
    reader.close()
    assert frames_in_log(path) < ROWS // 10  # that change started the log over


def test_a_small_log_is_only_copied_and_a_read_on_it_keeps_it(shop_file, monkeypatch):
    path, connection = shop_file
    monkeypatch.setattr(database, "RESTART_FRAMES", 10**6)
    reader = reading(path)
    checkpointer = sqlite3.connect(path, timeout=5, check_same_thread=False)
    database._checkpoint(checkpointer, path)  # returns at once: nothing to wait for
    write_as_the_shop(path, connection)
    reader.execute("COMMIT")
    checkpointer.close()
    reader.close()
    assert frames_in_log(path) > ROWS  # the change went after the others


def test_a_log_started_over_is_cut_back_on_disk(shop_file, monkeypatch, tmp_path):
    path, connection = shop_file
    wal = tmp_path / "shop.db-wal"
    limit = 64 * 1024
    connection.execute(f"PRAGMA journal_size_limit={limit}")
    assert wal.stat().st_size > 4 * limit
    monkeypatch.setattr(database, "RESTART_FRAMES", ROWS // 2)
    reader = reading(path)  # on the log: without the restart, the next write appends
    checkpointer = sqlite3.connect(path, timeout=5, check_same_thread=False)
    checkpointing = threading.Thread(target=database._checkpoint, args=(checkpointer, path))
    checkpointing.start()
    checkpointing.join(0.3)
    assert checkpointing.is_alive()  # waiting for the read
    reader.execute("COMMIT")
    checkpointing.join(5)
    checkpointer.close()
    reader.close()
    write_as_the_shop(path, connection)
    assert wal.stat().st_size <= limit


def test_the_shops_connections_limit_the_log_file(tmp_path):
    from sqlalchemy import create_engine, text

    engine = create_engine(f"sqlite:///{tmp_path / 'shop.db'}")
    database.configure(engine)
    try:
        with engine.connect() as connection:
            limit = connection.execute(text("PRAGMA journal_size_limit")).scalar()
    finally:
        engine.dispose()
    assert limit == database.WAL_SIZE_LIMIT


def test_a_long_read_only_puts_the_restart_off(shop_file, monkeypatch):
    """An export or a backup reading for minutes must not hold every change up: the restart
    waits for reads only briefly, then lets go of the writers' lock and tries next round."""
    path, connection = shop_file
    monkeypatch.setattr(database, "RESTART_FRAMES", ROWS // 2)
    reader = reading(path)  # on the newest frames: the copy gets them all
    checkpointer = database.checkpoint_connection(path)
    started = time.monotonic()
    database._checkpoint(checkpointer, path)
    assert time.monotonic() - started < 0.5  # RESTART_WAIT_SECONDS, not the read's length
    write_as_the_shop(path, connection)  # the lock is free again
    reader.execute("COMMIT")
    checkpointer.close()
    reader.close()
    assert frames_in_log(path) > ROWS  # not started over: the read was still on it


def test_a_read_older_than_the_newest_frames_is_not_waited_for(shop_file, monkeypatch):
    path, connection = shop_file
    monkeypatch.setattr(database, "RESTART_FRAMES", ROWS // 2)
    reader = reading(path)
    connection.execute("INSERT INTO t VALUES (randomblob(3000))")  # after the read began
    checkpointer = sqlite3.connect(path, timeout=5, check_same_thread=False)
    started = time.monotonic()
    database._checkpoint(checkpointer, path)  # the copy stops short of the newest frame
    assert time.monotonic() - started < 2  # not the 5 s a RESTART would wait for the read
    reader.execute("COMMIT")
    checkpointer.close()
    reader.close()
