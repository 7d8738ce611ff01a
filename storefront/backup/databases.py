"""Copying a live database out consistently and loading a copy in, per backend.

SQLite: the online backup API, in one step: it reads inside one transaction, so the copy is a
single moment even while the shop writes (in WAL mode readers never block writers). A plain
file copy of a live database can tear. PostgreSQL: ``pg_dump`` in the snapshot of a
transaction that also reads the manifest's counts, so the counts describe exactly the dump.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Connection, create_engine, inspect, text
from sqlalchemy.engine import URL, make_url


class ToolMissing(RuntimeError):
    """pg_dump or pg_restore is not installed, or failed: the message says which and why."""


@dataclass(frozen=True)
class Described:
    """What a database holds, read in the same moment as its copy."""

    schema_version: str | None
    counts: dict[str, int]
    key_ids_in_use: list[str]
    image_files: list[str]


def backend(url: str) -> str:
    return make_url(url).get_backend_name()


def sqlite_file(url: str) -> Path:
    return Path(make_url(url).database)


def describe(conn: Connection) -> Described:
    tables = sorted(t for t in inspect(conn).get_table_names() if t != "alembic_version")
    counts = {t: conn.execute(text(f'SELECT count(*) FROM "{t}"')).scalar_one() for t in tables}
    version = None
    if inspect(conn).has_table("alembic_version"):
        version = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    keys = []
    if "encryption_keys_in_use" in tables:
        keys = sorted(
            bytes(k).hex()
            for k in conn.execute(text("SELECT key_id FROM encryption_keys_in_use")).scalars()
        )
    files = []
    if "product_images" in tables:
        for digest, widths in conn.execute(text("SELECT digest, widths FROM product_images")):
            sizes = [int(w) for w in widths.split(",")]
            files += [f"{digest}-{w}.webp" for w in sizes] + [f"{digest}-{sizes[-1]}.jpg"]
    return Described(version, counts, keys, sorted(set(files)))


def has_tables(url: str) -> bool:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return bool(inspect(conn).get_table_names())
    finally:
        engine.dispose()


# ---- SQLite ---------------------------------------------------------------------------------


def sqlite_copy(source: Path, target: Path) -> None:
    """Copy one SQLite database into another (created or overwritten), consistently."""
    if not source.is_file():
        raise FileNotFoundError(f"no SQLite database at {source}")
    src = sqlite3.connect(source)
    dst = sqlite3.connect(target)
    try:
        with dst:
            src.backup(dst)  # pages=-1: the whole database in one step, one read transaction
        dst.execute("PRAGMA journal_mode=DELETE")  # a backup file stands alone, without -wal
    finally:
        src.close()
        dst.close()


def sqlite_dump(url: str, target: Path) -> Described:
    sqlite_copy(sqlite_file(url), target)
    engine = create_engine(f"sqlite:///{target}")
    try:
        with engine.connect() as conn:
            return describe(conn)
    finally:
        engine.dispose()


# ---- PostgreSQL ------------------------------------------------------------------------------


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise ToolMissing(
            f"{name} is not installed; on Debian: apt-get install postgresql-client "
            "(its major version at least the server's)"
        )
    return found


def _libpq(url: str) -> tuple[str, dict]:
    """The URL as libpq takes it, with the password in the environment, not the command line."""
    parsed: URL = make_url(url)
    env = dict(os.environ)
    if parsed.password:
        env["PGPASSWORD"] = parsed.password
    plain = parsed.set(drivername="postgresql", password=None)
    return plain.render_as_string(hide_password=False), env


def _run(args: list[str], env: dict, what: str) -> None:
    done = subprocess.run(args, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise ToolMissing(f"{what} failed: {done.stderr.strip() or done.stdout.strip()}")


def postgres_dump(url: str, target: Path) -> Described:
    """pg_dump in the snapshot this function reads the counts in: both are one moment."""
    pg_dump = _tool("pg_dump")
    libpq, env = _libpq(url)
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
            with conn.begin():
                snapshot = conn.execute(text("SELECT pg_export_snapshot()")).scalar_one()
                described = describe(conn)
                _run(
                    [
                        pg_dump,
                        "--format=custom",
                        f"--snapshot={snapshot}",
                        "--file",
                        str(target),
                        "--dbname",
                        libpq,
                    ],
                    env,
                    "pg_dump",
                )
        return described
    finally:
        engine.dispose()


def postgres_load(dump: Path, url: str) -> None:
    libpq, env = _libpq(url)
    _run(
        [
            _tool("pg_restore"),
            "--no-owner",
            "--no-privileges",
            "--exit-on-error",
            "--single-transaction",
            "--dbname",
            libpq,
            str(dump),
        ],
        env,
        "pg_restore",
    )


def drop_all_tables(url: str) -> None:
    """Empty a database of every table (restore --force), in one transaction."""
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            names = inspect(conn).get_table_names()
            if engine.dialect.name == "postgresql":
                for name in names:
                    conn.execute(text(f'DROP TABLE IF EXISTS "{name}" CASCADE'))
            else:
                conn.execute(text("PRAGMA foreign_keys=OFF"))
                for name in names:
                    conn.execute(text(f'DROP TABLE IF EXISTS "{name}"'))
    finally:
        engine.dispose()


@contextlib.contextmanager
def scratch_postgres(url: str) -> Iterator[str]:
    """A new, empty database on the server ``url`` names, dropped afterwards."""
    name = f"storefront_verify_{secrets.token_hex(6)}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            yield make_url(url).set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()
