"""Test databases: a real SQLite file per test, or a real PostgreSQL database per run.

``STOREFRONT_TEST_POSTGRES_URL`` (for example ``postgresql+psycopg://postgres@127.0.0.1/``)
switches the fast tests to PostgreSQL: the run creates its own uniquely named database, because
the server is shared with whatever ran before, and drops it at the end.
"""

from __future__ import annotations

import os
import re
import secrets
import sqlite3
from contextlib import closing
from pathlib import Path

from sqlalchemy import create_engine, make_url, text

POSTGRES_URL = os.environ.get("STOREFRONT_TEST_POSTGRES_URL", "").strip()
# What the template database holds before any test: copied aside once, copied back between
# tests (much faster than loading the demo again). Serial ids continue after the copies'.
PRISTINE = {
    "products": True,
    "shipping_methods": False,
    "tax_rates": True,
    "coupons": True,
    "counters": False,
    "stock_movements": True,
}


def app_tables(conn) -> list[str]:
    """Every table the migrations made (read from the database, so a new migration's tables
    are emptied between tests without anyone listing them here)."""
    return list(
        conn.execute(
            text(
                "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() "
                "AND tablename <> 'alembic_version' AND tablename NOT LIKE '%\\_pristine'"
            )
        ).scalars()
    )


def empty_app_tables(conn) -> None:
    """Every app table emptied and its ids restarted, as ``TRUNCATE ... RESTART IDENTITY
    CASCADE`` does, in half its time: a truncate gives each of the 27 tables new files, 0.15 s
    after every test, where deleting the few rows a test leaves takes 0.08 s (measured, session
    25). Deleting in any order needs the foreign keys' checks off (``session_replication_role``,
    a superuser's setting, as the default ``postgres`` user is); otherwise, the truncate."""
    tables = app_tables(conn)
    if not conn.execute(
        text("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
    ).scalar():
        conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        return
    # The sequences the tables own (serial and identity columns), as RESTART IDENTITY finds them.
    sequences = conn.execute(
        text(
            "SELECT DISTINCT s.oid::regclass::text FROM pg_class s "
            "JOIN pg_depend d ON d.objid = s.oid AND d.deptype IN ('a', 'i') "
            "WHERE s.relkind = 'S' AND d.refobjid::regclass::text = ANY(:tables)"
        ),
        {"tables": tables},
    ).scalars()
    statements = ["SET LOCAL session_replication_role = replica"]
    statements += [f"DELETE FROM {table}" for table in tables]
    statements += [f"ALTER SEQUENCE {sequence} RESTART" for sequence in sequences]
    statements += ["SET LOCAL session_replication_role = DEFAULT"]
    conn.exec_driver_sql("; ".join(statements))


def create_postgres_database(base_url: str = POSTGRES_URL, prefix: str = "storefront_test") -> str:
    """A fresh, uniquely named database on the server at ``base_url``; returns its URL."""
    base = make_url(base_url)
    name = f"{prefix}_{os.getpid()}_{secrets.token_hex(4)}"
    admin = create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return base.set(database=name).render_as_string(hide_password=False)


def drop_postgres_database(url: str) -> None:
    name = make_url(url).database
    admin = create_engine(make_url(url).set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


class SqliteTemplate:
    """Migrate and load the demo once; every test gets its own copy of the file."""

    def __init__(self, directory: Path):
        self.path = directory / "template.db"

    def url_for(self, directory: Path) -> str:
        # SQLite's backup, not a file copy: right after the template is made, part of it may
        # still be in its WAL (the app checkpoints once a second), which a file copy misses.
        target = directory / "storefront.db"
        with (
            closing(sqlite3.connect(self.path)) as source,
            closing(sqlite3.connect(target)) as copy,
        ):
            source.backup(copy)
        return f"sqlite:///{target}"


def selects_reading(app, table: str, work) -> list[str]:
    """The SELECT statements that read ``table`` while ``work()`` runs in this app: how many
    round trips a request pays for it."""
    from sqlalchemy import event

    from storefront.extensions import db

    seen: list[str] = []

    def on_execute(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("SELECT") and re.search(
            rf"\b{table}\b", statement
        ):
            seen.append(statement)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", on_execute)
    try:
        work()
    finally:
        event.remove(engine, "before_cursor_execute", on_execute)
    return seen
