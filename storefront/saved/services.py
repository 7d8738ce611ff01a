"""Saved for later: a line leaves the cart for the saved list, or comes back, as one cart
revision in one transaction with the saved list's change."""

from __future__ import annotations

import re
from dataclasses import dataclass

from flask import current_app

from storefront.cart import services as cart
from storefront.cart import state, store, views
from storefront.cart.state import AddLine, Cart, RemoveLine
from storefront.cart.types import Change, Owner
from storefront.catalog import services as catalog
from storefront.catalog.services import ProductFacts
from storefront.errors import LineLimit, NotFound, OutOfStock
from storefront.saved import store as saved_store
from storefront.saved.store import Saved

SAVED_ID = re.compile(r"[A-Za-z0-9_-]{1,24}")
NOT_SAVED = "That item is not in your saved list."


@dataclass(frozen=True)
class SavedView:
    id: str
    line: views.LineView  # today's price and availability; ``added_cents``: the price then


@dataclass(frozen=True)
class Moved:
    change: Change
    sku: str


def saved_list(owner: Owner) -> list[SavedView]:
    """The owner's saved lines at today's prices and availability, newest first."""
    return saved_in(store.read(owner).cart_id)


def saved_in(cart_id: int | None) -> list[SavedView]:
    """The saved lines of this cart (a page that has read the cart already knows its id):
    one indexed query, and none of the catalog when nothing is saved."""
    found = saved_store.saved_lines(cart_id)
    lines = views.line_views(item.line for item in found)
    return [SavedView(item.id, line) for item, line in zip(found, lines, strict=True)]


def save_line(req: cart.Request, line_id: object) -> Moved:
    """Move a line out of the cart into the saved list."""
    line_id = cart.check_line_id(line_id)
    moved: list[str] = []

    def decide(held: Cart):
        line = held.line(line_id)
        if line is None:
            raise NotFound("That line is not in your cart.")
        moved.append(line.sku)
        op = RemoveLine(line_id, line.sku)
        return op, state.apply(held, op)

    def keep(change: Change) -> None:
        if saved_store.count(change.cart_id) >= current_app.config["MAX_LINES"]:
            raise LineLimit(
                "Your saved list is full: move something back to the cart or remove it first."
            )
        saved_store.add(change.cart_id, change.before.line(line_id))

    change = cart.write(req, decide, create=False, also=keep)
    return Moved(change, moved[0] if moved else "")


def move_to_cart(req: cart.Request, saved_id: object) -> Moved:
    """Move a saved line back into the cart (added to a matching line if there is one), at
    today's price, within stock and the cart's limits."""
    if not isinstance(saved_id, str) or not SAVED_ID.fullmatch(saved_id):
        raise NotFound(NOT_SAVED)
    cart_id = store.read(req.owner).cart_id
    item = saved_store.find(cart_id, saved_id) if cart_id is not None else None
    if item is None:
        raise NotFound(NOT_SAVED)
    product = catalog.to_add(item.line.sku)
    if product is None or not product.active:
        raise OutOfStock(
            "That product is no longer sold, so it cannot go back in the cart.",
            skus=[item.line.sku],
        )
    known = {product.sku: ProductFacts(*product[:5])}

    def decide(held: Cart):
        # Under the cart's lock: another device may have moved it back a moment ago.
        again = saved_store.find(cart_id, saved_id)
        if again is None:
            raise NotFound(NOT_SAVED)
        line = again.line
        op = AddLine(cart.new_line_id(), line.sku, line.quantity, line.options, product.price_cents)
        return op, state.apply(held, op, cart.limits_for(known))

    def forget(change: Change) -> None:
        if change.cart_id != cart_id or not saved_store.remove(cart_id, saved_id):
            raise NotFound(NOT_SAVED)
        views.read_facts_inside(change, known)

    change = cart.write(req, decide, create=False, also=forget)
    return Moved(change, item.line.sku)


def find_saved(owner: Owner, saved_id: str) -> Saved | None:
    cart_id = store.read(owner).cart_id
    return None if cart_id is None else saved_store.find(cart_id, saved_id)
