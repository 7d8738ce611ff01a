"""The app under gunicorn's gevent worker: what must yield to the hub does.

The suite itself runs unpatched (werkzeug's threaded server), so these checks run the app in a
child process patched the way gunicorn's gevent worker patches itself: ``monkey.patch_all()``
before the app is imported.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import types

import pytest

from tests import dbs

CHILD = textwrap.dedent(
    """
    from gevent import monkey

    monkey.patch_all()

    import os
    import threading
    import time

    import gevent
    from gevent.monkey import get_original

    from storefront import cooperative, create_app
    from storefront.accounts.models import User
    from storefront.database import _writer_queue, begin_write
    from storefront.extensions import db
    from storefront.realtime.registry import Subscription

    assert cooperative.patched()
    # A socket waiting on its inbox must yield: not the C SimpleQueue.
    assert type(Subscription("c").inbox) is not get_original("queue", "SimpleQueue")
    # Blocking C calls go to a native thread, not the hub's.
    main = get_original("threading", "get_ident")()
    assert cooperative.blocking(get_original("threading", "get_ident")) != main

    app = create_app({
        "STOREFRONT_DATABASE_URL": os.environ["CHILD_DATABASE_URL"],
        "STOREFRONT_SECRET_KEY": "test-secret",
        "STOREFRONT_ENCRYPTION_KEYS": os.environ["CHILD_KEY"],
        "INSTANCE_PATH": os.environ["CHILD_INSTANCE"],
        "TESTING": True,
    })
    with app.app_context():
        lock = _writer_queue(db.engine)._threads
        for part in (lock._mutex, threading.Event()):  # what its waiters block on
            assert type(part).__module__.startswith("gevent"), type(part)

    events = []
    ticks = 0

    def ticker():
        global ticks
        while True:
            gevent.sleep(0.01)
            ticks += 1

    def holder():
        with app.app_context():
            begin_write()
            db.session.add(User(email="a@example.com", password_hash="x", created_at=_now()))
            db.session.flush()  # SQLite's write lock is held from here to the commit
            events.append("holder has the lock")
            gevent.sleep(0.3)  # and the holder yields meanwhile
            db.session.commit()
            events.append("holder committed")

    def plain_writer():
        # A write that does not call begin_write (like a session renewal): it must queue on the
        # process lock (yielding), not in SQLite's busy handler (blocking the hub).
        with app.app_context():
            db.session.add(User(email="b@example.com", password_hash="x", created_at=_now()))
            db.session.commit()
            events.append("plain writer committed")

    def _now():
        from storefront import clock

        return clock.now()

    tick = gevent.spawn(ticker)
    started = time.monotonic()
    first = gevent.spawn(holder)
    gevent.sleep(0.05)
    assert events == ["holder has the lock"], events
    second = gevent.spawn(plain_writer)
    gevent.joinall([first, second], timeout=10, raise_error=True)
    took = time.monotonic() - started
    tick.kill()
    assert events == ["holder has the lock", "holder committed", "plain writer committed"], events
    assert took < 5, took
    assert ticks >= 0.3 / 0.01 / 3, ticks  # the hub kept running while the writer waited
    print("ok", round(took, 2), ticks)
    """
)


@pytest.mark.skipif(bool(dbs.POSTGRES_URL), reason="the process write lock is SQLite's")
def test_under_gevent_writers_and_sockets_yield_to_the_hub(database_url, tmp_path):
    from tests.conftest import KEY

    env = {
        **os.environ,
        "CHILD_DATABASE_URL": database_url,
        "CHILD_KEY": KEY,
        "CHILD_INSTANCE": str(tmp_path),
    }
    done = subprocess.run(
        [sys.executable, "-c", CHILD],
        env=env,
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith("ok"), done.stdout + done.stderr


POSTGRES_CHILD = textwrap.dedent(
    """
    from gevent import monkey

    monkey.patch_all()

    import os
    import time

    import gevent
    import psycopg
    import psycopg.waiting

    from storefront import cooperative

    cooperative.wait_for_postgres_on_hub()
    assert psycopg.waiting.wait is cooperative.wait_on_hub

    import socket

    from psycopg import errors
    from psycopg.waiting import READY_NONE, WAIT_R

    quiet, _peer = socket.socketpair()  # nothing ever arrives

    def reading():
        assert (yield WAIT_R) == READY_NONE  # told the wait ended unready
        yield WAIT_R

    try:
        cooperative.wait_on_hub(reading(), quiet.fileno(), timeout=0.05)
    except errors._WaitTimeout:
        pass
    else:
        raise AssertionError("a wait with a timeout did not end")

    ticks = 0

    def ticker():
        global ticks
        while True:
            gevent.sleep(0.01)
            ticks += 1

    with psycopg.connect(os.environ["CHILD_CONNINFO"]) as conn:
        assert conn.execute("SELECT %s::int + 1", (41,)).fetchone() == (42,)
        tick = gevent.spawn(ticker)
        started = time.monotonic()
        conn.execute("SELECT pg_sleep(0.3)")
        took = time.monotonic() - started
        tick.kill()
        assert took >= 0.3 and ticks >= 0.3 / 0.01 / 3, (took, ticks)  # the hub kept running
        try:
            conn.execute("SELECT 1 / 0")
        except psycopg.errors.DivisionByZero:
            conn.rollback()
        else:
            raise AssertionError("the server's error did not arrive")
        rows = conn.execute("SELECT generate_series(1, 20000)").fetchall()  # many reads
        assert len(rows) == 20000 and rows[-1] == (20000,)
    print("ok", round(took, 2), ticks)
    """
)


@pytest.mark.skipif(not dbs.POSTGRES_URL, reason="psycopg's waits: the PostgreSQL run")
def test_under_gevent_postgres_round_trips_wait_on_the_hub(database_url):
    conninfo = database_url.replace("postgresql+psycopg://", "postgresql://", 1)
    done = subprocess.run(
        [sys.executable, "-c", POSTGRES_CHILD],
        env={**os.environ, "CHILD_CONNINFO": conninfo},
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith("ok"), done.stdout + done.stderr


def test_a_half_imported_gevent_monkey_counts_as_not_patched(monkeypatch):
    """A thread may ask while another is importing ``gevent.monkey`` for the first time: the
    module is in ``sys.modules`` before its functions are (seen once in CI as an
    AttributeError in the checkpoint thread)."""
    from storefront import cooperative

    monkeypatch.setitem(sys.modules, "gevent.monkey", types.ModuleType("gevent.monkey"))
    assert cooperative.patched() is False
    assert cooperative.blocking(lambda a, b: a + b, 2, 3) == 5
