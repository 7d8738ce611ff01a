"""Re-encrypt every sealed value under the first configured key, in batches, while the shop runs.

Resumable by construction: each pass only touches values still sealed under another key, so an
interrupted run simply continues. Carts are re-sealed under their write lock; history rows never
change after they are written, so they are swapped only if still holding what was read.
Once nothing is left under an old key, that key is no longer "in use" and can be removed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import delete, func, select, update

from storefront.cart import models as m
from storefront.cart.sealing import aad, keyring
from storefront.checkout.models import CheckoutDetails, PaymentAttempt
from storefront.crypto import KEY_ID_BYTES
from storefront.database import begin_write
from storefront.extensions import db
from storefront.handoff.models import HandoffCode
from storefront.mail.models import OutboxMessage
from storefront.mail.outbox import aad as outbox_aad
from storefront.orders.models import Order
from storefront.orders.services import attempt_aad, order_aad
from storefront.saved.models import SavedLine

BATCH = 500


@dataclass(frozen=True)
class Sealed:
    """A table's sealed column and how to name each value's associated data."""

    model: type
    column: str
    keys: tuple[str, ...]
    aad: Callable[[object], bytes]


TARGETS = (
    Sealed(m.Cart, "state", ("id",), lambda r: aad("state", r.id, r.version)),
    Sealed(
        m.CartRevision, "op", ("cart_id", "version"), lambda r: aad("rev", r.cart_id, r.version)
    ),
    Sealed(
        m.CartSnapshot, "state", ("cart_id", "version"), lambda r: aad("snap", r.cart_id, r.version)
    ),
    Sealed(
        m.IdempotencyRecord,
        "result",
        ("cart_id", "key_hash"),
        lambda r: aad("idem", r.cart_id, r.key_hash.hex()),
    ),
    Sealed(CheckoutDetails, "sealed", ("cart_id",), lambda r: aad("checkout", r.cart_id)),
    Sealed(PaymentAttempt, "snapshot", ("id",), lambda r: attempt_aad(r.id)),
    Sealed(Order, "sealed", ("id",), lambda r: order_aad(r.number)),
    Sealed(OutboxMessage, "sealed", ("id",), lambda r: outbox_aad(r.message_id)),
    Sealed(SavedLine, "sealed", ("id",), lambda r: aad("saved", r.cart_id, r.id)),
    Sealed(HandoffCode, "sealed", ("id",), lambda r: aad("handoff", r.cart_id, r.code_hash.hex())),
)


def _key_prefix(column):
    return func.substr(column, 1, KEY_ID_BYTES)


def remaining() -> int:
    """How many values are still sealed under a key other than the first."""
    primary = keyring().primary_id
    total = 0
    for target in TARGETS:
        column = getattr(target.model, target.column)
        total += db.session.scalar(
            select(func.count()).where(column.is_not(None), _key_prefix(column) != primary)
        )
    db.session.commit()
    return total


def _rotate_batch(target: Sealed) -> int:
    ring = keyring()
    column = getattr(target.model, target.column)
    begin_write()
    stmt = (
        select(target.model)
        .where(column.is_not(None), _key_prefix(column) != ring.primary_id)
        .limit(BATCH)
    )
    if target.model is m.Cart:
        stmt = stmt.with_for_update()
    rows = db.session.scalars(stmt.execution_options(populate_existing=True)).all()
    for row in rows:
        old = getattr(row, target.column)
        bound = target.aad(row)
        new = ring.seal(ring.open(old, bound), bound)
        match = [getattr(target.model, k) == getattr(row, k) for k in target.keys]
        db.session.execute(
            update(target.model).where(*match, column == old).values({target.column: new})
        )
    db.session.commit()
    return len(rows)


def rotate(progress: Callable[[int], None] = lambda n: None) -> int:
    """Re-seal everything under the first key; returns how many values were re-sealed."""
    done = 0
    for target in TARGETS:
        while count := _rotate_batch(target):
            done += count
            progress(count)
    if remaining() == 0:
        primary = keyring().primary_id
        begin_write()
        db.session.execute(
            delete(m.EncryptionKeyInUse).where(m.EncryptionKeyInUse.key_id != primary)
        )
        if db.session.get(m.EncryptionKeyInUse, primary) is None:
            db.session.add(m.EncryptionKeyInUse(key_id=primary))
        db.session.commit()
    return done
