"""How long carts and their history are kept: the one home of these rules.

Each reads its window from the config, where ``config.load`` computed it once.
"""

from __future__ import annotations

from datetime import datetime

from flask import current_app

from storefront import clock


def guest_cart_cutoff() -> datetime:
    """A guest cart last changed before this is expired."""
    return clock.now() - current_app.config["GUEST_CART_LIFETIME"]


def guest_cart_expired(last_change: datetime) -> bool:
    return last_change < guest_cart_cutoff()


def guest_cart_kept_until(last_change: datetime) -> datetime:
    """When a guest cart is forgotten unless it changes before."""
    return last_change + current_app.config["GUEST_CART_LIFETIME"]


def history_cutoff() -> datetime:
    """Revisions older than this can no longer be restored (and cleanup prunes them)."""
    return clock.now() - current_app.config["HISTORY_WINDOW"]
