"""Statements run on the driver's cursor read and write exactly what SQLAlchemy would, on both
databases, and fail as SQLAlchemy's statements fail."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError

from storefront.cart import models as m
from storefront.cart.types import CartStatus
from storefront.extensions import db
from storefront.prepared import Prepared, together
from tests import dbs

CARTS = m.Cart.__table__
AT = datetime(2026, 12, 2, 17, 30, 15, 123456, tzinfo=UTC)


def a_cart(guest_key: bytes) -> dict:
    return {
        "user_id": None,
        "guest_key": guest_key,
        "status": CartStatus.OPEN,
        "version": 3,
        "state": b"\x00sealed\xff",
        "ops_since_snapshot": 0,
        "created_at": AT,
        "updated_at": AT,
    }


FIND = select(CARTS.c.id, CARTS.c.version, CARTS.c.state, CARTS.c.updated_at).where(
    CARTS.c.guest_key == bindparam("key"), CARTS.c.status == CartStatus.OPEN
)


def test_a_prepared_row_reads_back_as_sqlalchemy_reads_it(app):
    with app.app_context():
        Prepared(insert(CARTS)).execute(a_cart(b"k" * 32))
        prepared = Prepared(FIND).first({"key": b"k" * 32})
        through_core = db.session.execute(FIND, {"key": b"k" * 32}).one()
        assert prepared == tuple(through_core)
        _, version, state, updated_at = prepared
        assert (version, state, updated_at) == (3, b"\x00sealed\xff", AT)
        assert updated_at.tzinfo is not None  # aware, in UTC, on SQLite too
        # The fixed value in the statement (status 'open') is bound as the column stores it:
        # a cart set aside is not found.
        Prepared(update(CARTS).where(CARTS.c.id == bindparam("cart_id_"))).execute(
            {"cart_id_": prepared[0], "status": CartStatus.ASIDE}
        )
        assert Prepared(FIND).first({"key": b"k" * 32}) is None
        assert db.session.scalar(select(CARTS.c.status)) == CartStatus.ASIDE
        db.session.rollback()


def test_many_rows_at_once_and_every_row_of_a_select(app):
    with app.app_context():
        Prepared(insert(CARTS)).execute_many([a_cart(b"a" * 32), a_cart(b"b" * 32)])
        rows = Prepared(select(CARTS.c.guest_key).order_by(CARTS.c.guest_key)).all({})
        assert rows == [(b"a" * 32,), (b"b" * 32,)]
        db.session.rollback()


def test_a_refused_statement_raises_sqlalchemys_error_and_the_session_goes_on(app):
    with app.app_context():
        add = Prepared(insert(CARTS))
        add.execute(a_cart(b"k" * 32))
        with pytest.raises(IntegrityError):
            add.execute(a_cart(b"k" * 32))  # guest_key is unique
        db.session.rollback()
        assert Prepared(FIND).first({"key": b"k" * 32}) is None  # rolled back with the session
        db.session.rollback()


def test_a_statement_whose_defaults_python_computes_is_not_prepared(app):
    with app.app_context():
        # created_at and updated_at have Python defaults: they would silently be missing.
        with pytest.raises(ValueError, match="default"):
            Prepared(insert(CARTS)).execute({"guest_key": b"k" * 32, "status": CartStatus.OPEN})
        db.session.rollback()


def test_the_shops_own_statement_accounting_counts_prepared_statements(app):
    # metrics.py's database time and statement count per request.
    from storefront import metrics

    with app.app_context():
        db.session.connection()  # the session's own BEGIN is not what is counted here
        clock = [0.0, 0, 0.0]
        token = metrics._db_clock.set(clock)
        try:
            Prepared(FIND).first({"key": b"k" * 32})
            Prepared(insert(CARTS)).execute_many([a_cart(b"a" * 32), a_cart(b"b" * 32)])
        finally:
            metrics._db_clock.reset(token)
            db.session.rollback()
    assert clock[1] == 2 and clock[0] > 0


def test_a_listener_of_its_own_gets_sqlalchemys_execution_with_its_context(app):
    # An operator's tracing (OpenTelemetry keeps its span on the context) must not be handed
    # a statement without one: while it listens, statements go through Core.
    from sqlalchemy import event

    seen = []

    def before(conn, cursor, statement, parameters, context, executemany):
        context.traced = True  # as tracing does
        seen.append(statement.split()[0])

    with app.app_context():
        engine = db.engine
        event.listen(engine, "before_cursor_execute", before)
        try:
            Prepared(insert(CARTS)).execute(a_cart(b"k" * 32))
            found = Prepared(FIND).first({"key": b"k" * 32})
            assert Prepared(select(CARTS.c.guest_key)).all({}) == [(b"k" * 32,)]
        finally:
            event.remove(engine, "before_cursor_execute", before)
            db.session.rollback()
    assert found[1:3] == (3, b"\x00sealed\xff") and found[3] == AT
    assert seen[-3:] == ["INSERT", "SELECT", "SELECT"]


def test_a_value_its_column_refuses_is_sqlalchemys_statement_error_and_nothing_is_written(app):
    from sqlalchemy.exc import StatementError

    naive = {**a_cart(b"k" * 32), "updated_at": AT.replace(tzinfo=None)}
    with app.app_context():
        with pytest.raises(StatementError, match="naive datetime"):
            Prepared(insert(CARTS)).execute(naive)
        db.session.rollback()
        assert Prepared(FIND).first({"key": b"k" * 32}) is None
        db.session.rollback()


def _counted(work) -> int:
    """How many statements ``work`` sends to the database (the shop's own accounting)."""
    from storefront import metrics

    clock = [0.0, 0, 0.0]
    token = metrics._db_clock.set(clock)
    try:
        work()
    finally:
        metrics._db_clock.reset(token)
    return clock[1]


SET_VERSION = Prepared(update(CARTS).where(CARTS.c.guest_key == bindparam("key")))


def test_writes_made_together_are_one_statement_on_postgresql_and_all_written(app):
    with app.app_context():
        db.session.connection()

        def writes():
            with together():
                Prepared(insert(CARTS)).execute(a_cart(b"a" * 32))
                Prepared(insert(CARTS)).execute_many([a_cart(b"b" * 32), a_cart(b"c" * 32)])
                SET_VERSION.execute({"key": b"a" * 32, "version": 9})

        sent = _counted(writes)
        rows = db.session.execute(select(CARTS.c.guest_key, CARTS.c.version)).all()
        db.session.rollback()
    # SQLite has no round trips to save: each statement runs as it comes.
    assert sent == (1 if db_is_postgresql(app) else 3)
    # Every sub-statement sees the table as it was: the UPDATE in the same WITH does not see
    # the new row on PostgreSQL, so only what is meant to be together is put together.
    assert sorted(rows) == sorted(
        [(b"a" * 32, 3 if db_is_postgresql(app) else 9), (b"b" * 32, 3), (b"c" * 32, 3)]
    )


def test_a_read_inside_sends_the_writes_before_it_and_a_failure_sends_nothing(app):
    with app.app_context():
        with together():
            Prepared(insert(CARTS)).execute(a_cart(b"a" * 32))
            assert Prepared(FIND).first({"key": b"a" * 32}) is not None  # it sees the write
        with pytest.raises(RuntimeError), together():
            Prepared(insert(CARTS)).execute(a_cart(b"b" * 32))
            raise RuntimeError("the change is refused")
        keys = db.session.scalars(select(CARTS.c.guest_key)).all()
        db.session.rollback()
    # On PostgreSQL the second INSERT was never sent; on SQLite it was, and the caller's
    # rollback (store.write's) takes it back.
    assert b"a" * 32 in keys and (b"b" * 32 not in keys) == db_is_postgresql(app)


def db_is_postgresql(app) -> bool:
    return app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql")


def test_many_rows_inside_go_as_a_statement_of_their_own_after_what_is_pending(app):
    """A cart of thousands of lines cleared writes an event each: more than TOGETHER_ROWS rows
    are not folded into the combined statement (PostgreSQL takes 65,535 parameters at most)."""
    from storefront.prepared import TOGETHER_ROWS

    keys = [bytes([65 + n % 26, 65 + n // 26]) * 16 for n in range(TOGETHER_ROWS + 1)]
    with app.app_context():
        db.session.connection()

        def writes():
            with together():
                Prepared(insert(CARTS)).execute(a_cart(b"z" * 32))
                Prepared(insert(CARTS)).execute_many([a_cart(key) for key in keys])

        sent = _counted(writes)
        stored = db.session.scalars(select(CARTS.c.guest_key)).all()
        db.session.rollback()
    assert sent == 2 and sorted(stored) == sorted([b"z" * 32, *keys])


@pytest.mark.skipif(not dbs.POSTGRES_URL, reason="autocommit connections are PostgreSQL's")
def test_statements_on_a_connection_of_their_own_leave_the_session_alone(app):
    """Inside ``on(connection)``, reads, writes and writes together run on that connection,
    each committing itself; the session takes no connection and begins no transaction."""
    from sqlalchemy import func

    from storefront import database
    from storefront.prepared import on

    with app.app_context():
        with database.autocommit_connection() as connection, on(connection):
            [pid] = Prepared(select(func.pg_backend_pid())).first({})
            with together(guarded=True):
                Prepared(insert(CARTS).returning(CARTS.c.id)).execute(a_cart(b"a" * 32))
                SET_VERSION.execute({"key": b"b" * 32, "version": 9})
            assert Prepared(FIND).first({"key": b"a" * 32}) is not None
            assert not db.session().in_transaction()
        assert pid == connection.connection.driver_connection.info.backend_pid
        # Committed: seen from the session's own connection, another server process.
        assert db.session.scalar(select(func.pg_backend_pid())) != pid
        assert db.session.scalars(select(CARTS.c.guest_key)).all() == [b"a" * 32]
        db.session.rollback()
