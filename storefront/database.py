"""Engine set-up per backend, and the write transaction that locks on both.

SQLite: WAL, a generous busy timeout, and transactions begun by us, so a writer can ask for
``BEGIN IMMEDIATE`` and take the write lock before it reads (no lost updates, no upgrade
deadlocks). PostgreSQL: writers lock the cart row with ``SELECT ... FOR UPDATE``.
"""

from __future__ import annotations

from sqlalchemy import event
from sqlalchemy.engine import Engine

from storefront.extensions import db

WRITE = {"storefront_write": True}


def configure(engine: Engine) -> None:
    if engine.dialect.name != "sqlite":
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
        ):
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def on_begin(connection):
        immediate = connection.get_execution_options().get("storefront_write")
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def begin_write() -> None:
    """Start the session's transaction as a writer (call before the first read)."""
    if db.session().in_transaction():
        db.session.commit()
    db.session.connection(execution_options=WRITE)
