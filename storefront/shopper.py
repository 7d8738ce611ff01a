"""Who is shopping in this request: the cart owner, the device, and the cookie's upkeep."""

from __future__ import annotations

import secrets

from flask import request, session
from flask_login import current_user

from storefront import devices
from storefront.cart.store import Owner

GUEST = "guest"


def guest_token() -> str:
    token = session.get(GUEST)
    if not isinstance(token, str) or len(token) != 32:
        token = session[GUEST] = secrets.token_urlsafe(24)
        session.permanent = True
    return token


def current_owner() -> Owner:
    if current_user.is_authenticated:
        return Owner.user(current_user.id)
    return Owner.guest(guest_token())


def guest_owner_if_any() -> Owner | None:
    token = session.get(GUEST)
    return Owner.guest(token) if isinstance(token, str) and len(token) == 32 else None


def device() -> int:
    return devices.code_for(request.user_agent.string)


def changed_cart() -> None:
    """A cart change renews the cookie: it lives GUEST_CART_DAYS after the last change."""
    session.permanent = True
    session.modified = True
