"""Who is shopping in this request: the cart owner, the device, and the cookie's upkeep."""

from __future__ import annotations

import secrets

from flask import request, session
from flask_login import current_user

from storefront import devices
from storefront.cart.types import Owner

GUEST = "guest"


def _valid(token: object) -> bool:
    return isinstance(token, str) and len(token) == 32


def guest_token() -> str:
    """This browser's guest token, given to it now if it has none (the cookie is then set)."""
    token = session.get(GUEST)
    if not _valid(token):
        token = session[GUEST] = secrets.token_urlsafe(24)
        session.permanent = True
    return token


def current_owner() -> Owner:
    """The shopper, made a guest if unknown: for requests that may touch a cart."""
    if current_user.is_authenticated:
        return Owner.user(current_user.id)
    return Owner.guest(guest_token())


def known_owner() -> Owner | None:
    """The shopper if this request says who; never gives a cookie (logs, health checks)."""
    if current_user.is_authenticated:
        return Owner.user(current_user.id)
    return guest_owner_if_any()


def guest_owner_if_any() -> Owner | None:
    token = session.get(GUEST)
    return Owner.guest(token) if _valid(token) else None


def session_token() -> str | None:
    """The signed-in device session's token, if signed in."""
    return current_user.get_id() if current_user.is_authenticated else None


def device() -> int:
    return devices.code_for(request.user_agent.string)


def changed_cart() -> None:
    """A cart change renews the cookie: it lives GUEST_CART_DAYS after the last change."""
    session.renew()
