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


class PostgresReset:
    """Puts a test database back as the template left it: every app table empty, its ids
    restarted (as ``TRUNCATE ... RESTART IDENTITY CASCADE``), the ``PRISTINE`` tables' rows
    as copied aside. In a quarter of the truncate's time, after each of some 1,750 tests
    (measured, session 25): a truncate gives each of the 27 tables new files (0.15 s); deleting
    the few rows a test leaves is cheaper, and of the 1,500 demo products and their stock
    movements only the rows a test wrote are put back. A row's ``xmin`` is the transaction
    that wrote it: one written after the last reset is new or changed, so it is deleted, and
    every copied-aside row then missing is copied back.

    Deleting in any order needs the foreign keys' checks off (``session_replication_role``,
    a superuser's setting, as the default ``postgres`` user is); otherwise, the truncate."""

    def __init__(self, url: str):
        # A plain engine, not the app: a test may have left data under keys the app would refuse.
        # Pinged first: a test may have had the server end every connection to its database.
        self.url = url
        self.engine = create_engine(url, pool_pre_ping=True)
        self.last_reset: int | None = None  # the transaction id of the last reset
        # Read once: what the server says about the user and the tables' keys never changes
        # during a run.
        self.superuser: bool | None = None
        self.primary_keys: dict[str, list[str]] = {}

    def __call__(self) -> None:
        with self.engine.begin() as conn:
            tables = app_tables(conn)
            if self.superuser is None:
                self.superuser = conn.execute(
                    text("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
                ).scalar()
            if not self.superuser:
                conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
                self._copy_back(conn, everything=True)
                return
            # This transaction's id, as a row's xmin shows it (the lower 32 bits).
            now = conn.execute(text("SELECT pg_current_xact_id()::text::bigint")).scalar() % 2**32
            # The first time, or ids wrapped around since (once in four billion): all of it.
            everything = self.last_reset is None or now < self.last_reset
            others = [table for table in tables if table not in PRISTINE]
            statements = ["SET LOCAL session_replication_role = replica"]
            statements += [f"DELETE FROM {table}" for table in others]
            statements += [f"ALTER SEQUENCE {name} RESTART" for name in _sequences(conn, others)]
            statements += [
                f"DELETE FROM {table}"
                + ("" if everything else f" WHERE xmin::text::bigint > {self.last_reset}")
                for table in PRISTINE
            ]
            conn.exec_driver_sql("; ".join(statements))
            self._copy_back(conn, everything)
            conn.exec_driver_sql("SET LOCAL session_replication_role = DEFAULT")
        self.last_reset = now

    def _copy_back(self, conn, everything: bool) -> None:
        for table, serial in PRISTINE.items():
            if everything:
                conn.execute(text(f"INSERT INTO {table} SELECT * FROM {table}_pristine"))
            else:
                if table not in self.primary_keys:
                    self.primary_keys[table] = _primary_key(conn, table)
                keys = self.primary_keys[table]
                match = " AND ".join(f"t.{key} = p.{key}" for key in keys)
                conn.execute(
                    text(
                        f"INSERT INTO {table} SELECT * FROM {table}_pristine p "
                        f"WHERE NOT EXISTS (SELECT 1 FROM {table} t WHERE {match})"
                    )
                )
            if serial:
                conn.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                        f"coalesce(max(id), 0) + 1, false) FROM {table}"
                    )
                )

    def close(self) -> None:
        self.engine.dispose()


def _sequences(conn, tables: list[str]) -> list[str]:
    """The sequences the tables own (serial and identity columns), as RESTART IDENTITY finds
    them."""
    return (
        conn.execute(
            text(
                "SELECT DISTINCT s.oid::regclass::text FROM pg_class s "
                "JOIN pg_depend d ON d.objid = s.oid AND d.deptype IN ('a', 'i') "
                "WHERE s.relkind = 'S' AND d.refobjid::regclass::text = ANY(:tables)"
            ),
            {"tables": tables},
        )
        .scalars()
        .all()
    )


def _primary_key(conn, table: str) -> list[str]:
    return (
        conn.execute(
            text(
                "SELECT a.attname FROM pg_index i JOIN pg_attribute a "
                "ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) "
                "WHERE i.indrelid = CAST(:table AS regclass) AND i.indisprimary"
            ),
            {"table": table},
        )
        .scalars()
        .all()
    )


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
