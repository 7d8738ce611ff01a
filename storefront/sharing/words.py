"""What a shared cart's change is called when the other account hears of it: who did what."""

from __future__ import annotations

from collections.abc import Mapping

from storefront.cart.notices import item
from storefront.cart.state import (
    AddLine,
    Clear,
    MergeIn,
    RemoveLine,
    Replace,
    SetQuantity,
    TakeOrdered,
)
from storefront.cart.types import Change, Source


def by_whom(who: str, change: Change, names: Mapping[str, str]) -> str:
    """ "Sam changed Blue Mug to 3." for the other account's pages."""
    who = who or "The other account"
    match change.op:
        case AddLine(sku=sku, quantity=quantity, options=options):
            return f"{who} added {item(quantity, names.get(sku, sku), options)}."
        case SetQuantity(line_id=line_id, quantity=quantity) if quantity:
            return f"{who} changed {_line_name(change, line_id, names)} to {quantity}."
        case SetQuantity(line_id=line_id) | RemoveLine(line_id=line_id):
            return f"{who} removed {_line_name(change, line_id, names)}."
        case Clear():
            return f"{who} emptied the cart."
        case MergeIn():
            return f"{who} added what they picked before signing in."
        case Replace(restored=restored):
            if change.source is Source.SUPPORT:
                return "Customer support restored an earlier version of this cart."
            return f"{who} restored the cart as it was at revision {restored}."
        case TakeOrdered(order_number=number):
            return f"{who} placed order {number}: what it took left the cart."
    return f"{who} changed the cart."


def history_by(actor: int | None, viewer: int | None, names: Mapping[int, str]) -> str:
    """Who made a revision, as the history shows it ("" when the cart was not shared)."""
    if actor is None:
        return ""
    return "You" if actor == viewer else names.get(actor, "The other account")


def _line_name(change: Change, line_id: str, names: Mapping[str, str]) -> str:
    line = change.before.line(line_id)
    return names.get(line.sku, line.sku) if line else "a line"
