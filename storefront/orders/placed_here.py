"""Which orders this browser may see without an account: those it placed, remembered in its
signed session cookie (the newest few), and any it holds a signed link for (emails)."""

from __future__ import annotations

from flask import current_app, request, session
from flask_login import current_user
from itsdangerous import BadSignature, URLSafeSerializer

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


def listed() -> list[Order]:
    """The orders ``/orders`` lists, newest first: the account's, or a guest's from this
    browser."""
    if current_user.is_authenticated:
        return orders.for_user(current_user.id)
    found = (orders.by_number(n) for n in numbers())
    return sorted((o for o in found if o is not None), key=lambda o: -o.number)


def _links() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="order-link")


def signed_url(order: Order, *, external: bool = True) -> str:
    """A link that opens this order's page for whoever holds it (the order's emails, which a
    guest may open on another device). Built by hand: emails are also composed by the
    background jobs, outside any request, where url_for has no host."""
    path = f"/orders/{order.number}?key={_links().dumps(order.number)}"
    return current_app.config["PUBLIC_URL"] + path if external else path


def _linked() -> list[int]:
    try:
        number = _links().loads(request.args.get("key", ""))
    except BadSignature:
        return []
    return [number] if isinstance(number, int) else []


def visible(number: object) -> Order:
    signed_in = current_user.is_authenticated
    return orders.visible(
        number,
        user_id=current_user.id if signed_in else None,
        placed_here=numbers() + _linked(),
        staff=signed_in and current_user.is_staff,
    )
