"""Read and write lines saved for later. Each row is sealed like the cart's state (a line's
options, an engraving, are personal) and bound to its cart and its own id, so one cart's saved
line cannot be swapped into another's. Writes run inside the cart change they belong to."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, select

from storefront import clock
from storefront.cart import codec
from storefront.cart.sealing import aad, keyring
from storefront.cart.state import Cart, Line
from storefront.cart.store import remember_key_in_use
from storefront.extensions import db
from storefront.saved.models import SavedLine

ID_BYTES = 12  # 16 characters of URL-safe text


@dataclass(frozen=True)
class Saved:
    id: str
    saved_at: datetime
    line: Line  # its id is the saved id; its price the one the shopper last added it at


def _aad(cart_id: int, saved_id: str) -> bytes:
    return aad("saved", cart_id, saved_id)


def _seal(cart_id: int, saved_id: str, line: Line) -> bytes:
    remember_key_in_use()
    return keyring().seal(codec.encode_cart(Cart.of([line])), _aad(cart_id, saved_id))


def _open(row: SavedLine) -> Saved:
    cart = codec.decode_cart(keyring().open(row.sealed, _aad(row.cart_id, row.id)))
    line = cart.lines[0]
    return Saved(
        row.id, row.saved_at, Line(row.id, line.sku, line.quantity, line.options, line.price_cents)
    )


def saved_lines(cart_id: int | None) -> list[Saved]:
    """The cart's saved lines, most recently saved first."""
    if cart_id is None:
        return []
    rows = db.session.scalars(
        select(SavedLine)
        .where(SavedLine.cart_id == cart_id)
        .order_by(SavedLine.saved_at.desc(), SavedLine.id)
    )
    return [_open(row) for row in rows]


def find(cart_id: int, saved_id: str) -> Saved | None:
    row = db.session.get(SavedLine, saved_id)
    return None if row is None or row.cart_id != cart_id else _open(row)


def count(cart_id: int) -> int:
    return db.session.scalar(select(func.count()).where(SavedLine.cart_id == cart_id))


def add(cart_id: int, line: Line) -> Saved:
    saved_id = secrets.token_urlsafe(ID_BYTES)
    now = clock.now()
    db.session.add(
        SavedLine(id=saved_id, cart_id=cart_id, saved_at=now, sealed=_seal(cart_id, saved_id, line))
    )
    db.session.flush()
    return Saved(saved_id, now, line)


def remove(cart_id: int, saved_id: str) -> bool:
    gone = db.session.execute(
        delete(SavedLine).where(SavedLine.id == saved_id, SavedLine.cart_id == cart_id)
    ).rowcount
    return gone == 1


def move_all(from_cart_id: int, to_cart_id: int) -> None:
    """A cart taken into another (sign-in, handoff): its saved lines go along, sealed anew for
    the cart they now belong to."""
    for row in db.session.scalars(select(SavedLine).where(SavedLine.cart_id == from_cart_id)):
        line = _open(row).line
        row.cart_id = to_cart_id
        row.sealed = _seal(to_cart_id, row.id, line)
    db.session.flush()
