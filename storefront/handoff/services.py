"""Handoff use cases: issue a code for a guest's cart, and join that cart on another device.

Joining hands the other device the guest token that opens the cart: both cookies then name
the same cart, and both devices' pages listen on the same channel, so every change from then
on shows on both. What the joining device held before is merged in, as at sign-in.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Row, delete, exists, select, update

from storefront import clock
from storefront.cart import models as cart_models
from storefront.cart import services as cart
from storefront.cart import store
from storefront.cart.sealing import aad, keyring
from storefront.cart.types import CartStatus, Owner, Source
from storefront.errors import HandoffRefused, NotFound
from storefront.extensions import db
from storefront.handoff import codes
from storefront.handoff.models import HandoffCode

VALID_FOR = timedelta(minutes=10)
# Used and expired codes are kept this long (a late "already used" beats "not known"), then
# cleared by the next code issued anywhere.
KEEP_SPENT = timedelta(days=1)
NEW_CODE_TRIES = 5
_COLUMNS = (
    HandoffCode.id,
    HandoffCode.code_hash,
    HandoffCode.cart_id,
    HandoffCode.cart_version,
    HandoffCode.sealed,
    HandoffCode.expires_at,
    HandoffCode.used_at,
)


@dataclass(frozen=True)
class Issued:
    code: str
    expires_at: datetime


@dataclass(frozen=True)
class Joined:
    token: str  # the guest token this device now holds
    merge: cart.MergeResult


def _aad(cart_id: int, code_hash: bytes) -> bytes:
    return aad("handoff", cart_id, code_hash.hex())


def _unused_code() -> tuple[str, bytes]:
    for _ in range(NEW_CODE_TRIES):
        code = codes.new_code()
        hashed = codes.code_hash(code)
        taken = db.session.scalar(select(exists().where(HandoffCode.code_hash == hashed)))
        if not taken:
            return code, hashed
    raise RuntimeError("no free handoff code after several tries")  # one in 10^40: a bug


def issue(guest_token: str) -> Issued:
    """A new code for this guest's cart (NotFound when it has none). The cart's earlier
    unused codes stop working: one live code per cart at a time."""
    now = clock.now()
    issued: list[Issued] = []

    def write_code(change) -> None:
        db.session.execute(
            delete(HandoffCode).where(
                (HandoffCode.expires_at < now - KEEP_SPENT)
                | ((HandoffCode.cart_id == change.cart_id) & HandoffCode.used_at.is_(None))
            )
        )
        code, hashed = _unused_code()
        store.remember_key_in_use()
        db.session.add(
            HandoffCode(
                code_hash=hashed,
                cart_id=change.cart_id,
                cart_version=change.version,
                sealed=keyring().seal(guest_token.encode(), _aad(change.cart_id, hashed)),
                created_at=now,
                expires_at=now + VALID_FOR,
            )
        )
        db.session.flush()
        issued.append(Issued(code, now + VALID_FOR))

    store.write(Owner.guest(guest_token), lambda held: (None, held), create=False, also=write_code)
    return issued[0]


def redeem(typed: object, *, guest_token: str | None, device: int) -> Joined:
    """Join the cart a code was issued for, on this device (``guest_token``: this device's
    guest token; None when signed in). Refused, with nothing changed, for a code unknown,
    used, expired, for a cart since ordered, merged or ended, or this device's own cart."""
    if guest_token is None:
        raise HandoffRefused(
            "You are signed in here, so your account's cart is already on this device. "
            "Sign out first to continue a guest's cart here.",
            reason="signed_in",
        )
    code = codes.normalise(typed)
    # Plain values, not an ORM object: a newer code may delete this row at any moment, and an
    # expired object refreshed after that would fail with a 500 instead of a refusal.
    found = db.session.execute(
        select(*_COLUMNS).where(HandoffCode.code_hash == codes.code_hash(code))
    ).first()
    db.session.commit()
    if found is None:
        raise NotFound(
            "That handoff code is not known. Check it, or show a new code on the other device."
        )
    _check_unspent(found)
    token = keyring().open(found.sealed, _aad(found.cart_id, found.code_hash)).decode()
    if token == guest_token:
        raise HandoffRefused(
            "That code is for the cart this device already has: open it on your other device.",
            reason="own_cart",
        )
    owner = Owner.guest(token)
    _check_cart(found.cart_id, owner)

    def claim() -> None:
        """Under the cart's lock: the code is used now, once, and the cart was not ordered."""
        now = clock.now()
        claimed = db.session.execute(
            update(HandoffCode)
            .where(
                HandoffCode.id == found.id,
                HandoffCode.used_at.is_(None),
                HandoffCode.expires_at > now,
            )
            .values(used_at=now)
        ).rowcount
        if claimed != 1:
            raise HandoffRefused("That code has just been used: each works once.", reason="used")
        if _ordered_since(found.cart_id, found.cart_version):
            raise HandoffRefused(
                "That cart was ordered after the code was made, so there is nothing to continue.",
                reason="ordered",
            )

    merge = cart.merge_carts(owner, Owner.guest(guest_token), device, before=claim)
    return Joined(token, merge)


def _check_unspent(found: Row) -> None:
    if found.used_at is not None:
        raise HandoffRefused(
            "That code has already been used: each code works once. "
            "Show a new one on the other device.",
            reason="used",
        )
    if found.expires_at <= clock.now():
        raise HandoffRefused(
            "That code has expired (codes last ten minutes). Show a new one on the other device.",
            reason="expired",
        )


def _check_cart(cart_id: int, owner: Owner) -> None:
    row = db.session.get(cart_models.Cart, cart_id)
    taken = row is not None and (row.user_id is not None or row.status is CartStatus.MERGED)
    open_now = store.read(owner).cart_id == cart_id
    db.session.commit()
    if taken:
        raise HandoffRefused(
            "That cart now belongs to an account: sign in to that account on this device.",
            reason="merged",
        )
    if not open_now:
        raise HandoffRefused(
            "That cart has ended (it was left unchanged too long). Start a new one here.",
            reason="ended",
        )


def _ordered_since(cart_id: int, version: int) -> bool:
    revisions = cart_models.CartRevision
    return bool(
        db.session.scalar(
            select(
                exists().where(
                    revisions.cart_id == cart_id,
                    revisions.version > version,
                    revisions.source == int(Source.ORDER),
                )
            )
        )
    )
