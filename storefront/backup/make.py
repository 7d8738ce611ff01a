"""``storefront backup DEST``: the database, images, keys and manifest of a running shop."""

from __future__ import annotations

import contextlib
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from flask import current_app

from storefront.backup import databases, keys
from storefront.backup.manifest import KEYS_FILE, MEDIA, Manifest
from storefront.catalog.images import FILE_NAME

Progress = Callable[[str, int, int], None]  # stage, done so far, total


class BackupRefused(RuntimeError):
    """Nothing was written: the message says why."""


@dataclass(frozen=True)
class Made:
    dest: Path
    manifest: Manifest
    seconds: float
    images_gone: list[str]  # referenced by the database copy, deleted before they were copied

    def line(self) -> str:
        counts = self.manifest.counts
        megabytes = self.manifest.total_bytes / 1e6
        return (
            f"backup: {counts.get('carts', 0)} carts, {counts.get('orders', 0)} orders, "
            f"{counts.get('product_images', 0)} images, {megabytes:.1f} MB in {self.dest} "
            f"(schema {self.manifest.schema_version}) in {self.seconds:.1f} s; "
            f"keys in {self.dest / KEYS_FILE}: store that file apart from the rest"
        )


def app_version() -> str:
    try:
        return version("storefront")
    except PackageNotFoundError:
        return "unknown"


def _prepare(dest: Path) -> None:
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise BackupRefused(f"{dest} already exists and is not an empty folder; name a new one")
    dest.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(dest, 0o700)


def _copy_images(media: Path, wanted: list[str], dest: Path, progress: Progress) -> list[str]:
    """Copy the images the database copy names (and any other image file), atomically each;
    return those the database names that were deleted before they could be copied."""
    target = dest / MEDIA
    target.mkdir(mode=0o700)
    present = (
        sorted(p.name for p in media.iterdir() if FILE_NAME.fullmatch(p.name))
        if media.is_dir()
        else []
    )
    for done, name in enumerate(present, 1):
        # Deleted meanwhile: told below if the database copy still names it.
        with contextlib.suppress(FileNotFoundError):
            shutil.copy2(media / name, target / name)
        progress("images", done, len(present))
    return [name for name in wanted if not (target / name).exists()]


def make(dest: Path, progress: Progress = lambda stage, done, total: None) -> Made:
    started = time.monotonic()
    config = current_app.config
    url = config["SQLALCHEMY_DATABASE_URI"]
    kind = databases.backend(url)
    if kind not in ("sqlite", "postgresql"):
        raise BackupRefused(f"cannot back up a {kind} database")
    _prepare(dest)
    database_file = "database.sqlite3" if kind == "sqlite" else "database.pgdump"
    progress("database", 0, 1)
    dump = databases.sqlite_dump if kind == "sqlite" else databases.postgres_dump
    described = dump(url, dest / database_file)
    progress("database", 1, 1)
    # After the database: an image added since is an extra file, harmless; one deleted since
    # is reported (the product's picture then needs uploading again after a restore).
    gone = _copy_images(Path(config["MEDIA_DIR"]), described.image_files, dest, progress)
    keys.write(dest / KEYS_FILE, config["SECRET_KEY"], config["ENCRYPTION_KEYS"])
    manifest = Manifest(
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        app_version=app_version(),
        backend=kind,
        database_file=database_file,
        schema_version=described.schema_version,
        counts=described.counts,
        key_ids_in_use=described.key_ids_in_use,
    )
    files = [database_file, KEYS_FILE] + [
        f"{MEDIA}/{p.name}" for p in sorted((dest / MEDIA).iterdir())
    ]
    for done, relative in enumerate(files, 1):
        manifest.add_file(dest, relative)
        progress("checksums", done, len(files))
    manifest.write(dest)
    return Made(dest, manifest, time.monotonic() - started, gone)
