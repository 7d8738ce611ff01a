"""Whether an invitation can be accepted, decided from plain facts: no database, no Flask.
The first reason found is the one the shopper is told."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from storefront.errors import (
    AlreadySharing,
    CartAlreadyShared,
    DomainError,
    InvitationExpired,
    InvitationStale,
    InvitationUsed,
    NotFound,
    OwnInvitation,
)

# Long enough to reach someone in the same household by message, short enough that a link
# forgotten in a chat stops working by itself.
INVITATION_LIFETIME = timedelta(hours=24)
TOKEN_BYTES = 32  # 256 bits: guessing is hopeless, so no rate limit is needed to stop it
MAX_TOKEN_LENGTH = 64


@dataclass(frozen=True)
class InvitationFacts:
    used: bool
    expires_at: datetime
    cart_open: bool
    cart_owner_id: int | None
    cart_member_id: int | None
    ordered_since: bool


@dataclass(frozen=True)
class AccepterFacts:
    user_id: int
    shares_a_cart: bool  # owns a shared cart, or is already another cart's member


def unknown() -> NotFound:
    return NotFound("This invitation link is not valid. Ask for a new one.")


def refusal(invite: InvitationFacts, accepter: AccepterFacts, now: datetime) -> DomainError | None:
    if invite.cart_owner_id == accepter.user_id:
        return OwnInvitation(
            "This is your own cart's invitation: send the link to the person you want to "
            "share it with."
        )
    if invite.cart_member_id == accepter.user_id:
        return AlreadySharing("You already share this cart.")
    if invite.used:
        return InvitationUsed("This invitation was already used. Ask for a new one.")
    if invite.expires_at <= now:
        return InvitationExpired("This invitation has expired. Ask for a new one.")
    if not invite.cart_open or invite.cart_owner_id is None or invite.ordered_since:
        return InvitationStale(
            "The cart of this invitation was checked out or closed since. Ask for a new one."
        )
    if invite.cart_member_id is not None:
        return CartAlreadyShared("This cart is already shared with another account.")
    if accepter.shares_a_cart:
        return AlreadySharing(
            "You already share a cart with someone. Stop sharing it first, then open this "
            "link again."
        )
    return None
