"""A worker keeps the database connections it opened (storefront/database.py:pool_options)."""

from __future__ import annotations

from sqlalchemy import event, text

from storefront.database import pool_options
from storefront.extensions import db

# More at once than SQLAlchemy's default pool kept (5): what a gevent worker under load has.
BURST = 12


def _burst(engine) -> None:
    held = [engine.connect() for _ in range(BURST)]
    for connection in held:
        assert connection.execute(text("SELECT 1")).scalar() == 1
    for connection in held:
        connection.close()


def test_connections_opened_for_a_burst_stay_open_for_the_next(app):
    opened, closed = [], []

    def on_connect(*_):
        opened.append(1)

    def on_close(*_):
        closed.append(1)

    with app.app_context():
        engine = db.engine
        event.listen(engine, "connect", on_connect)
        event.listen(engine, "close", on_close)
        try:
            _burst(engine)
            after_first = len(opened)
            _burst(engine)
        finally:
            event.remove(engine, "connect", on_connect)
            event.remove(engine, "close", on_close)
        # The default pool closed 7 of the 12 as they came back, and opened them anew for the
        # next burst: on PostgreSQL a server process each time.
        assert closed == []
        assert len(opened) == after_first
        assert engine.pool.checkedin() >= BURST


def test_the_pool_is_sized_with_no_overflow_and_memory_databases_are_left_alone():
    assert pool_options("postgresql+psycopg://h/db", 15) == {"pool_size": 15, "max_overflow": 0}
    assert pool_options("sqlite:////srv/shop/storefront.db", 3) == {
        "pool_size": 3,
        "max_overflow": 0,
    }
    # One shared connection (SQLAlchemy's StaticPool): nothing to size.
    assert pool_options("sqlite://", 15) == {}
    assert pool_options("sqlite:///:memory:", 15) == {}
