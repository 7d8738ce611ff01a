"""Sharing use cases: invite, look at an invitation, accept it, stop sharing. Each public call
is one transaction; the routes announce after the commit."""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from storefront import clock
from storefront.accounts.models import User
from storefront.cart import store as cart_store
from storefront.cart.types import CartStatus, Owner
from storefront.database import begin_write
from storefront.errors import CartAlreadyShared, NotCartOwner, NotShared, NotSignedIn
from storefront.extensions import db
from storefront.sharing import rules
from storefront.sharing import store as share_store


@dataclass(frozen=True)
class Invitation:
    token: str
    expires_at: datetime


@dataclass(frozen=True)
class Preview:
    """What the confirmation page shows before anything is used up."""

    owner_name: str
    expires_at: datetime | None
    refusal: str | None  # why it cannot be accepted, in words; None when it can
    refusal_code: str | None = None


@dataclass(frozen=True)
class Sharing:
    """An account's part in a shared cart, for its cart page."""

    role: str  # "owner" or "member"
    partner_id: int
    partner_name: str


@dataclass(frozen=True)
class Ended:
    owner_id: int
    member_id: int


def display_name(email: str) -> str:
    """How a sharer is named to the other: the part of their email before the @, so the full
    address (account data) is never shown to the other account."""
    local = email.split("@", 1)[0]
    return local[:1].upper() + local[1:]


def names_of(user_ids: Iterable[int]) -> dict[int, str]:
    ids = {i for i in user_ids if i is not None}
    if not ids:
        return {}
    rows = db.session.execute(select(User.id, User.email).where(User.id.in_(ids)))
    return {user_id: display_name(email) for user_id, email in rows}


def _signed_in(owner: Owner) -> int:
    if owner.user_id is None:
        raise NotSignedIn("Sign in first: a cart is shared between two accounts.")
    return owner.user_id


def invite(owner: Owner) -> Invitation:
    """A new single-use link to this account's own cart (earlier unused links stop working)."""
    user_id = _signed_in(owner)
    token = secrets.token_urlsafe(rules.TOKEN_BYTES)
    expires_at = clock.now() + rules.INVITATION_LIFETIME

    def also(change) -> None:
        if change.sharers and change.sharers[0] != user_id:
            raise NotCartOwner("Only the cart's owner can invite someone to share it.")
        if change.sharers:
            raise CartAlreadyShared(
                "This cart is already shared with another account: stop sharing first."
            )
        share_store.revoke_invitations(change.cart_id)
        share_store.add_invitation(change.cart_id, token, expires_at)

    # A no-op change locks (or creates) the owner's cart row for the invitation to hang on.
    cart_store.write(owner, lambda cart: (None, cart), also=also)
    return Invitation(token, expires_at)


def _invitation(token: object, *, lock: bool = False):
    if not isinstance(token, str) or not 0 < len(token) <= rules.MAX_TOKEN_LENGTH:
        raise rules.unknown()
    found = share_store.invitation(token, lock=lock)
    if found is None:
        raise rules.unknown()
    return found


def _facts(token: object, user_id: int, *, lock: bool):
    found = _invitation(token, lock=lock)
    own = share_store.own_cart_of(user_id)
    ids = sorted({found.cart_id} | ({own.id} if own else set()))
    carts = share_store.lock_carts(ids) if lock else {}
    cart = carts.get(found.cart_id) or share_store.cart_facts(found.cart_id)
    invite = rules.InvitationFacts(
        used=found.used_at is not None,
        expires_at=found.expires_at,
        cart_open=cart is not None and cart.status == CartStatus.OPEN,
        cart_owner_id=cart.user_id if cart else None,
        cart_member_id=cart.member_user_id if cart else None,
        ordered_since=share_store.ordered_since(found.cart_id, found.created_at),
    )
    accepter = rules.AccepterFacts(user_id, share_store.shared_cart_of(user_id) is not None)
    return found, cart, own, invite, accepter


def preview(token: object, owner: Owner) -> Preview:
    """The invitation as its confirmation page shows it; changes nothing (link previewers and
    scanners follow GETs)."""
    if owner.user_id is None:
        # Who invites is for the signed-in eyes of the one who accepts.
        return Preview("", _invitation(token).expires_at, None)
    found, cart, _own, invite, accepter = _facts(token, owner.user_id, lock=False)
    refused = rules.refusal(invite, accepter, clock.now())
    name = names_of([cart.user_id]).get(cart.user_id, "") if cart and cart.user_id else ""
    return Preview(
        name,
        found.expires_at,
        refused.message if refused else None,
        refused.code if refused else None,
    )


def accept(token: object, owner: Owner) -> int:
    """The signed-in account joins the invitation's cart; its own cart waits aside. Returns
    the owner's account id."""
    user_id = _signed_in(owner)
    begin_write()
    try:
        found, cart, own, invite, accepter = _facts(token, user_id, lock=True)
        refused = rules.refusal(invite, accepter, clock.now())
        if refused is not None:
            raise refused
        share_store.set_aside(user_id, own)
        share_store.set_member(cart.id, user_id, cart.version)
        found.used_at, found.used_by = clock.now(), user_id
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    return cart.user_id


def stop(owner: Owner) -> Ended:
    """Either account ends the sharing: the member gets their own cart back, as they left it."""
    user_id = _signed_in(owner)
    begin_write()
    try:
        shared = share_store.shared_cart_of(user_id, lock=True)
        if shared is None:
            raise NotShared("This cart is not shared.")
        ended = _end(shared)
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    return ended


def _end(shared: share_store.CartFacts) -> Ended:
    share_store.set_member(shared.id, None, None)
    share_store.give_back(shared.member_user_id)
    share_store.revoke_invitations(shared.id)
    return Ended(shared.user_id, shared.member_user_id)


def end_before_deletion(user_id: int) -> Ended | None:
    """Inside the account deletion's transaction: a deleted owner's member gets their own cart
    back (the shared cart goes with its owner); a deleted member simply leaves."""
    shared = share_store.shared_cart_of(user_id, lock=True)
    return None if shared is None else _end(shared)


def sharing_of(owner: Owner) -> Sharing | None:
    if owner.user_id is None:
        return None
    shared = share_store.shared_cart_of(owner.user_id)
    if shared is None:
        return None
    is_owner = shared.user_id == owner.user_id
    partner = shared.member_user_id if is_owner else shared.user_id
    return Sharing("owner" if is_owner else "member", partner, names_of([partner]).get(partner, ""))
