"""The manifest of a backup: what it holds, and checksums that tell a damaged copy."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

NAME = "manifest.json"
FORMAT = 1
KEYS_FILE = "KEYS-KEEP-APART.env"
MEDIA = "media"
CHUNK = 1 << 20


class BackupDamaged(RuntimeError):
    """The backup cannot be trusted: the message says what is missing or wrong."""


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass
class Manifest:
    created_at: str
    app_version: str
    backend: str  # "sqlite" or "postgresql"
    database_file: str
    schema_version: str | None
    counts: dict[str, int]
    key_ids_in_use: list[str]
    files: dict[str, dict] = field(default_factory=dict)  # relative path -> sha256, bytes

    def add_file(self, root: Path, relative: str) -> None:
        path = root / relative
        self.files[relative] = {"sha256": sha256_of(path), "bytes": path.stat().st_size}

    def write(self, root: Path) -> None:
        data = {"format": FORMAT, **self.__dict__}
        (root / NAME).write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")

    @classmethod
    def read(cls, root: Path) -> Manifest:
        path = root / NAME
        if not path.is_file():
            raise BackupDamaged(f"{root} holds no {NAME}: it is not a storefront backup")
        try:
            data = json.loads(path.read_text())
            if data.pop("format") != FORMAT:
                raise BackupDamaged(f"{NAME} is of another format than this version reads")
            return cls(**data)
        except (ValueError, TypeError, KeyError) as exc:
            raise BackupDamaged(f"{NAME} cannot be read: {exc}") from None

    @property
    def total_bytes(self) -> int:
        return sum(entry["bytes"] for entry in self.files.values())


def check_files(root: Path, manifest: Manifest, progress=lambda n: None) -> list[str]:
    """Every file the manifest lists, present and unchanged; returns the problems found."""
    problems = []
    for relative, entry in sorted(manifest.files.items()):
        path = root / relative
        if not path.is_file():
            if relative == KEYS_FILE:
                continue  # kept apart, as it should be: the keys are looked for elsewhere
            problems.append(f"{relative}: missing")
        elif path.stat().st_size != entry["bytes"] or sha256_of(path) != entry["sha256"]:
            problems.append(f"{relative}: damaged (its checksum does not match the manifest)")
        progress(entry["bytes"])
    return problems
