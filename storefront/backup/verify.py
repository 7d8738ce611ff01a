"""``storefront backup --verify SRC``: is every file intact, and does every sealed value open
with the keys the backup (or the shop) holds?"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from storefront import crypto
from storefront.backup import databases, keys
from storefront.backup.manifest import KEYS_FILE, MEDIA, BackupDamaged, Manifest, check_files
from storefront.cart.rotation import TARGETS
from storefront.config import ConfigError

Progress = Callable[[str, int, int], None]


@dataclass
class Verified:
    manifest: Manifest | None = None
    keys_from: str = ""
    problems: list[str] = field(default_factory=list)
    opened: Counter = field(default_factory=Counter)  # table -> sealed values that opened

    @property
    def ok(self) -> bool:
        return not self.problems

    def lines(self) -> list[str]:
        out = []
        if self.manifest is not None:
            m = self.manifest
            out.append(
                f"backup of {m.created_at} ({m.backend}, schema {m.schema_version}, "
                f"storefront {m.app_version}): {len(m.files)} files, {m.total_bytes / 1e6:.1f} MB"
            )
            out.append(
                f"holds {m.counts.get('carts', 0)} carts, {m.counts.get('orders', 0)} orders, "
                f"{m.counts.get('product_images', 0)} images"
            )
        if self.keys_from:
            out.append(f"keys from {self.keys_from}")
        if self.opened:
            sealed = ", ".join(f"{n} in {t}" for t, n in sorted(self.opened.items()))
            out.append(f"decrypted {sum(self.opened.values())} sealed values ({sealed})")
        out += [f"PROBLEM: {p}" for p in self.problems]
        out.append(
            "verify: OK, this backup can be restored"
            if self.ok
            else f"verify: FAILED, {len(self.problems)} problem(s)"
        )
        return out


def _keyring(root: Path, given: Path | None, configured: list[bytes], result: Verified):
    path = given or root / KEYS_FILE
    if path.is_file():
        try:
            _, ring_keys = keys.read(path)
        except ConfigError as exc:
            result.problems.append(str(exc))
            return None
        result.keys_from = str(path)
        return crypto.Keyring(ring_keys)
    result.keys_from = "the shop's configuration (the backup's keys file is not beside it)"
    return crypto.Keyring(configured)


def _open_sealed(engine, ring: crypto.Keyring, result: Verified, progress: Progress) -> None:
    unknown: Counter = Counter()
    with Session(engine) as session:
        for number, target in enumerate(TARGETS, 1):
            table = target.model.__tablename__
            column = getattr(target.model, target.column)
            rows = session.execute(
                select(target.model).where(column.is_not(None)).execution_options(yield_per=500)
            ).scalars()
            for row in rows:
                try:
                    ring.open(getattr(row, target.column), target.aad(row))
                    result.opened[table] += 1
                except crypto.UnknownKeyError:
                    unknown[table] += 1
                except crypto.TamperedError:
                    ids = "/".join(str(getattr(row, k)) for k in target.keys)
                    result.problems.append(f"{table} {ids}: damaged (it fails authentication)")
            progress("decrypt", number, len(TARGETS))
    for table, count in sorted(unknown.items()):
        result.problems.append(
            f"{table}: {count} value(s) sealed under a key the keys file does not hold"
        )


def verify(
    root: Path,
    *,
    server_url: str,
    configured_keys: list[bytes],
    keys_file: Path | None = None,
    progress: Progress = lambda stage, done, total: None,
) -> Verified:
    from storefront.backup.opened import scratch_engine

    result = Verified()
    try:
        result.manifest = manifest = Manifest.read(root)
    except BackupDamaged as exc:
        result.problems.append(str(exc))
        return result
    total = manifest.total_bytes
    seen = 0

    def count_bytes(n: int) -> None:
        nonlocal seen
        seen += n
        progress("checksums", seen, total)

    result.problems += check_files(root, manifest, count_bytes)
    if any(p.startswith(manifest.database_file) for p in result.problems):
        return result  # a damaged database copy is not worth opening
    ring = _keyring(root, keys_file, configured_keys, result)
    if ring is None:
        return result
    missing = sorted(set(manifest.key_ids_in_use) - {k.hex() for k in ring.key_ids})
    if missing:
        result.problems.append(f"the keys do not include key id(s) {', '.join(missing)}")
    try:
        with scratch_engine(root, manifest, server_url) as engine:
            with engine.connect() as conn:
                described = databases.describe(conn)
            if described.counts != manifest.counts:
                result.problems.append("the database copy's row counts differ from the manifest")
            for name in described.image_files:
                if f"{MEDIA}/{name}" not in manifest.files:
                    result.problems.append(f"{MEDIA}/{name}: named by a product, not in the backup")
            _open_sealed(engine, ring, result, progress)
    except databases.ToolMissing as exc:
        result.problems.append(str(exc))
    except Exception as exc:  # a copy that will not load is the finding itself
        result.problems.append(f"the database copy cannot be opened: {exc}")
    return result
