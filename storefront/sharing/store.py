"""The rows behind sharing: the cart's member columns, the member's own cart set aside and
given back, and the invitations. Every function here runs inside the caller's transaction."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import exists, or_, select, update

from storefront import clock
from storefront.cart import models as m
from storefront.cart.types import CartStatus
from storefront.checkout.models import PaymentAttempt
from storefront.extensions import db
from storefront.sharing.models import CartInvitation

_CARTS = m.Cart.__table__


@dataclass(frozen=True)
class CartFacts:
    id: int
    user_id: int | None
    member_user_id: int | None
    status: str
    version: int


def token_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def _facts(row) -> CartFacts | None:
    return None if row is None else CartFacts(*row)


def _cart_columns():
    c = _CARTS.c
    return select(c.id, c.user_id, c.member_user_id, c.status, c.version)


def shared_cart_of(user_id: int, *, lock: bool = False) -> CartFacts | None:
    """The open cart this account shares, as its owner or as its member."""
    c = _CARTS.c
    stmt = _cart_columns().where(
        c.status == CartStatus.OPEN,
        c.member_user_id.is_not(None),
        or_(c.user_id == user_id, c.member_user_id == user_id),
    )
    return _facts(db.session.execute(stmt.with_for_update() if lock else stmt).first())


def own_cart_of(user_id: int) -> CartFacts | None:
    """The account's own cart row, whatever its status (an account has one at most)."""
    return _facts(db.session.execute(_cart_columns().where(_CARTS.c.user_id == user_id)).first())


def lock_carts(cart_ids: list[int]) -> dict[int, CartFacts]:
    """Lock these carts in id order: two accounts inviting each other cannot deadlock."""
    stmt = _cart_columns().where(_CARTS.c.id.in_(cart_ids)).order_by(_CARTS.c.id)
    return {row.id: CartFacts(*row) for row in db.session.execute(stmt.with_for_update())}


def set_aside_cart_id(user_id: int | None) -> int | None:
    """A member's own cart (set aside while they share another's)."""
    if user_id is None:
        return None
    return db.session.scalar(
        select(_CARTS.c.id).where(_CARTS.c.user_id == user_id, _CARTS.c.status == CartStatus.ASIDE)
    )


def set_aside(user_id: int, own: CartFacts | None) -> None:
    """The member's own cart waits, untouched, until sharing ends; an account without one gets
    an empty one, so what it types at checkout is kept apart from the owner's."""
    if own is None:
        now = clock.now()
        db.session.execute(
            _CARTS.insert().values(
                user_id=user_id,
                status=CartStatus.ASIDE,
                version=0,
                ops_since_snapshot=0,
                created_at=now,
                updated_at=now,
            )
        )
    else:
        db.session.execute(
            update(_CARTS).where(_CARTS.c.id == own.id).values(status=CartStatus.ASIDE)
        )


def give_back(member_id: int) -> None:
    db.session.execute(
        update(_CARTS)
        .where(_CARTS.c.user_id == member_id, _CARTS.c.status == CartStatus.ASIDE)
        .values(status=CartStatus.OPEN)
    )


def set_member(cart_id: int, member_id: int | None, shared_from: int | None) -> None:
    db.session.execute(
        update(_CARTS)
        .where(_CARTS.c.id == cart_id)
        .values(member_user_id=member_id, shared_from=shared_from)
    )


def add_invitation(cart_id: int, token: str, expires_at: datetime) -> None:
    db.session.add(
        CartInvitation(
            token_hash=token_hash(token),
            cart_id=cart_id,
            created_at=clock.now(),
            expires_at=expires_at,
        )
    )


def revoke_invitations(cart_id: int) -> None:
    """Links not yet accepted stop working (a newer link, sharing stopped)."""
    db.session.execute(
        update(CartInvitation)
        .where(CartInvitation.cart_id == cart_id, CartInvitation.used_at.is_(None))
        .values(used_at=clock.now())
    )


def invitation(token: str, *, lock: bool = False) -> CartInvitation | None:
    stmt = select(CartInvitation).where(CartInvitation.token_hash == token_hash(token))
    return db.session.scalar(stmt.with_for_update() if lock else stmt)


def ordered_since(cart_id: int, since: datetime) -> bool:
    """An order was placed from this cart after ``since``."""
    return bool(
        db.session.scalar(
            select(
                exists().where(
                    PaymentAttempt.cart_id == cart_id,
                    PaymentAttempt.status == "placed",
                    PaymentAttempt.created_at >= since,
                )
            )
        )
    )


def cart_facts(cart_id: int) -> CartFacts | None:
    return _facts(db.session.execute(_cart_columns().where(_CARTS.c.id == cart_id)).first())
