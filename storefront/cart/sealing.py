"""The app's keyring, the associated data that binds each sealed value to its cart, and the
carts opened from sealed bytes lately."""

from __future__ import annotations

from flask import current_app

from storefront import crypto
from storefront.cart.opened import OpenedCarts


def keyring() -> crypto.Keyring:
    ring = current_app.extensions.get("storefront.keyring")
    if ring is None:
        ring = current_app.extensions["storefront.keyring"] = crypto.Keyring(
            current_app.config["ENCRYPTION_KEYS"]
        )
    return ring


def aad(kind: str, cart_id: int, *parts: object) -> bytes:
    return "|".join([kind, str(cart_id), *map(str, parts)]).encode()


def opened_carts() -> OpenedCarts:
    carts = current_app.extensions.get("storefront.opened_carts")
    if carts is None:  # setdefault: two first requests at once still share one
        carts = current_app.extensions.setdefault("storefront.opened_carts", OpenedCarts())
    return carts
