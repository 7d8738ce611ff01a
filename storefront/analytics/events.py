"""Writing commerce events: always inside the caller's transaction (never a commit here), so an
event exists exactly when what it describes was committed."""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime

from flask import current_app
from sqlalchemy import insert

from storefront import clock
from storefront.analytics.kinds import DeviceKind, EventKind
from storefront.analytics.models import CommerceEvent
from storefront.prepared import Prepared

# Every cart change writes its events: on the driver's cursor (storefront/prepared.py).
_INSERT_PREPARED = Prepared(insert(CommerceEvent.__table__))


def shopper_hash(channel: str) -> bytes:
    """The keyed hash of a shopper's channel (``Owner.channel``: ``user:7``, ``guest:…``)."""
    key = current_app.extensions.get("storefront.analytics_key")
    if key is None:
        secret = current_app.config["SECRET_KEY"].encode()
        key = hashlib.sha256(b"analytics-shopper|" + secret).digest()
        current_app.extensions["storefront.analytics_key"] = key
    return hmac.new(key, channel.encode(), hashlib.sha256).digest()[:16]


def record(
    kind: EventKind,
    channel: str,
    *,
    device: DeviceKind = DeviceKind.UNKNOWN,
    at: datetime | None = None,
    sku: str | None = None,
    quantity: int | None = None,
    order_number: int | None = None,
    amount_cents: int | None = None,
    peer_channel: str | None = None,
    cart_units: int | None = None,
) -> None:
    """Add one event to the current transaction."""
    _INSERT_PREPARED.execute(
        {
            "at": at or clock.now(),
            "kind": int(kind),
            "shopper": shopper_hash(channel),
            "peer": shopper_hash(peer_channel) if peer_channel else None,
            "device": int(device),
            "sku": sku,
            "quantity": quantity,
            "order_number": order_number,
            "amount_cents": amount_cents,
            "cart_units": cart_units,
        },
    )


def record_many(
    channel: str,
    rows: list[tuple[EventKind, str | None, int | None]],
    *,
    at: datetime,
    device: DeviceKind,
    cart_units: int | None,
) -> None:
    """Several events of one shopper at one moment, as (kind, sku, quantity), in one
    statement (a cart change makes one to a few: this is on the add's hot path)."""
    shopper = shopper_hash(channel)
    params = [
        {
            "at": at,
            "kind": int(kind),
            "shopper": shopper,
            "peer": None,
            "device": int(device),
            "sku": sku,
            "quantity": quantity,
            "order_number": None,
            "amount_cents": None,
            "cart_units": cart_units,
        }
        for kind, sku, quantity in rows
    ]
    if len(params) == 1:
        _INSERT_PREPARED.execute(params[0])
    else:
        _INSERT_PREPARED.execute_many(params)
