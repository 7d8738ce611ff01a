"""The backup's copy of the secret and the encryption keys, in a file of its own."""

from __future__ import annotations

import os
from pathlib import Path

from storefront.config import ConfigError, parse_keys

HEADER = """\
# storefront backup: the SECRET and the ENCRYPTION KEYS of the shop.
# Keep this file APART from the rest of the backup and safe (a password manager, another
# machine). Whoever holds it and the backup can read every cart and order; without it no one
# can, and a restore needs it. The variables below are what the shop's environment takes.
"""


def write(path: Path, secret: str, keys: list[bytes]) -> None:
    import base64

    text = (
        HEADER
        + f"STOREFRONT_SECRET_KEY={secret}\n"
        + "STOREFRONT_ENCRYPTION_KEYS="
        + ",".join(base64.urlsafe_b64encode(k).decode() for k in keys)
        + "\n"
    )
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)


def read(path: Path) -> tuple[str, list[bytes]]:
    """The secret and keys a keys file holds; ConfigError says what is wrong with it."""
    values = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            name, _, value = line.partition("=")
            values[name.strip()] = value.strip()
    secret = values.get("STOREFRONT_SECRET_KEY", "")
    raw = values.get("STOREFRONT_ENCRYPTION_KEYS", "")
    if not secret or not raw:
        raise ConfigError(f"{path} does not hold STOREFRONT_SECRET_KEY and the encryption keys")
    return secret, parse_keys(raw)
