"""A backup's database, loaded into a scratch copy that is thrown away afterwards."""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import create_engine
from sqlalchemy.engine import Engine

from storefront.backup import databases
from storefront.backup.manifest import Manifest


@contextlib.contextmanager
def scratch_engine(root: Path, manifest: Manifest, server_url: str) -> Iterator[Engine]:
    """An engine on a throwaway copy of the backup's database (the backup is never opened for
    writing). A PostgreSQL dump is loaded into a new database on the shop's own server."""
    dump = root / manifest.database_file
    if manifest.backend == "sqlite":
        with tempfile.TemporaryDirectory(prefix="storefront-verify-") as folder:
            copy = Path(folder) / "database.sqlite3"
            databases.sqlite_copy(dump, copy)
            engine = create_engine(f"sqlite:///{copy}")
            try:
                yield engine
            finally:
                engine.dispose()
        return
    if databases.backend(server_url) != "postgresql":
        raise databases.ToolMissing(
            "this backup is of a PostgreSQL database: checking it needs a PostgreSQL server "
            "(set STOREFRONT_DATABASE_URL to one; a scratch database is made and dropped there)"
        )
    with databases.scratch_postgres(server_url) as url:
        databases.postgres_load(dump, url)
        engine = create_engine(url)
        try:
            yield engine
        finally:
            engine.dispose()
