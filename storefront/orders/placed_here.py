"""Which orders this browser may see without an account: those it placed, remembered in its
signed session cookie (the newest few)."""

from __future__ import annotations

from flask import session
from flask_login import current_user

from storefront.orders import services as orders
from storefront.orders.models import Order

KEY = "orders"
KEEP = 20


def numbers() -> list[int]:
    value = session.get(KEY)
    return [n for n in value if isinstance(n, int)] if isinstance(value, list) else []


def remember(number: int) -> None:
    session[KEY] = [number, *[n for n in numbers() if n != number]][:KEEP]
    session.permanent = True


def visible(number: object) -> Order:
    signed_in = current_user.is_authenticated
    return orders.visible(
        number,
        user_id=current_user.id if signed_in else None,
        placed_here=numbers(),
        staff=signed_in and getattr(current_user, "is_staff", False),
    )
