"""The app's keyring and the associated data that binds each sealed value to its cart."""

from __future__ import annotations

from flask import current_app

from storefront import crypto


def keyring() -> crypto.Keyring:
    ring = current_app.extensions.get("storefront.keyring")
    if ring is None:
        ring = current_app.extensions["storefront.keyring"] = crypto.Keyring(
            current_app.config["ENCRYPTION_KEYS"]
        )
    return ring


def aad(kind: str, cart_id: int, *parts: object) -> bytes:
    return "|".join([kind, str(cart_id), *map(str, parts)]).encode()
