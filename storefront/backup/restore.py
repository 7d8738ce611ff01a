"""``storefront restore SRC``: a backup into an instance whose database has no tables."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from flask import current_app

from storefront.backup import databases, keys
from storefront.backup.manifest import KEYS_FILE, MEDIA, BackupDamaged, Manifest, check_files
from storefront.config import ConfigError
from storefront.crypto import key_id
from storefront.extensions import db

Progress = Callable[[str, int, int], None]


class RestoreRefused(RuntimeError):
    """Nothing was changed: the message says why and what to do."""


@dataclass
class Restored:
    manifest: Manifest
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    def line(self) -> str:
        counts = self.manifest.counts
        return (
            f"restore: {counts.get('carts', 0)} carts, {counts.get('orders', 0)} orders, "
            f"{counts.get('product_images', 0)} images from the backup of "
            f"{self.manifest.created_at} (schema {self.manifest.schema_version}) "
            f"in {self.seconds:.1f} s"
        )


def _plan_keys(root: Path, keys_file: Path | None, manifest: Manifest) -> tuple | None:
    """What to do about the keys, decided before anything changes: None when the shop's own
    keys open the backup; else the (secret, keys) to install in the instance folder."""
    config = current_app.config
    configured = {key_id(k).hex() for k in config["ENCRYPTION_KEYS"]}
    needed = set(manifest.key_ids_in_use)
    path = keys_file or root / KEYS_FILE
    backup_keys = None
    if path.is_file():
        try:
            backup_keys = keys.read(path)
        except ConfigError as exc:
            raise RestoreRefused(str(exc)) from None
    if config["SECRETS_IN_INSTANCE"] and backup_keys is not None:
        have = {key_id(k).hex() for k in backup_keys[1]}
        if needed - have:
            raise RestoreRefused(
                f"{path} does not hold key id(s) {', '.join(sorted(needed - have))}, "
                "under which the backup's data is sealed"
            )
        return backup_keys
    if needed - configured:
        raise RestoreRefused(
            "the backup's data is sealed under key id(s) "
            f"{', '.join(sorted(needed - configured))}, which this shop's "
            "STOREFRONT_ENCRYPTION_KEYS does not hold: set STOREFRONT_SECRET_KEY and "
            f"STOREFRONT_ENCRYPTION_KEYS as {KEYS_FILE} says (or pass --keys FILE), then run "
            "restore again"
        )
    return None


def _install_keys(secret: str, ring_keys: list[bytes], notes: list[str]) -> None:
    """The backup's secret and keys become the instance's; the files they replace are kept."""
    import base64

    instance = Path(current_app.instance_path)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    values = {
        "secret_key": secret,
        "encryption_keys": ",".join(base64.urlsafe_b64encode(k).decode() for k in ring_keys),
    }
    for name, value in values.items():
        path = instance / name
        if path.exists():
            if path.read_text().strip() == value:
                continue
            kept = path.with_name(f"{name}.before-restore-{stamp}")
            path.rename(kept)
            notes.append(f"{path} replaced by the backup's; the old one is kept as {kept.name}")
        tmp = path.with_name(f".{name}.restoring")
        tmp.write_text(value + "\n")
        tmp.chmod(0o600)
        tmp.replace(path)


def _copy_images(root: Path, manifest: Manifest, progress: Progress) -> None:
    target = Path(current_app.config["MEDIA_DIR"])
    target.mkdir(parents=True, exist_ok=True)
    names = [r for r in manifest.files if r.startswith(f"{MEDIA}/")]
    for done, relative in enumerate(names, 1):
        destination = target / Path(relative).name
        if not destination.exists():  # named by content: an existing file is the same picture
            tmp = destination.with_name(f".{destination.name}.restoring")
            shutil.copy2(root / relative, tmp)
            tmp.replace(destination)
        progress("images", done, len(names))


def restore(
    root: Path,
    *,
    force: bool = False,
    keys_file: Path | None = None,
    progress: Progress = lambda stage, done, total: None,
) -> Restored:
    started = time.monotonic()
    manifest = Manifest.read(root)
    total, seen = manifest.total_bytes, 0

    def count_bytes(n: int) -> None:
        nonlocal seen
        seen += n
        progress("checksums", seen, total)

    problems = check_files(root, manifest, count_bytes)
    if problems:
        raise BackupDamaged("; ".join(problems))
    url = current_app.config["SQLALCHEMY_DATABASE_URI"]
    kind = databases.backend(url)
    if kind != manifest.backend:
        raise RestoreRefused(
            f"this backup is of a {manifest.backend} database and this shop uses {kind}: "
            "restore it into a shop on the same database"
        )
    db.session.remove()
    db.engine.dispose()  # the CLI's own connections must not hold the file or the tables
    if databases.has_tables(url) and not force:
        raise RestoreRefused(
            "this shop's database already holds tables; restore into an empty one, or "
            "give --force to replace everything in it with the backup"
        )
    new_keys = _plan_keys(root, keys_file, manifest)
    result = Restored(manifest)
    progress("database", 0, 1)
    dump = root / manifest.database_file
    if kind == "sqlite":
        databases.sqlite_copy(dump, databases.sqlite_file(url))
    else:
        if force:
            databases.drop_all_tables(url)
        databases.postgres_load(dump, url)
    progress("database", 1, 1)
    _copy_images(root, manifest, progress)
    if new_keys is not None:
        _install_keys(*new_keys, result.notes)
    result.seconds = time.monotonic() - started
    return result
