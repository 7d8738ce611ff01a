"""Sentences that tell the shopper what happened to their cart."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from storefront.cart.state import (
    AddLine,
    Clear,
    MergeIn,
    MergeReport,
    Op,
    Options,
    Reason,
    RemoveLine,
    Replace,
    SetQuantity,
    Shortfall,
    TakeOrdered,
)
from storefront.cart.types import Change, Source

REASONS = {
    Reason.STOCK: "not enough in stock",
    Reason.QUANTITY_LIMIT: "that is the most one line can hold",
    Reason.LINE_LIMIT: "your cart is full",
    Reason.RETIRED: "no longer sold",
    Reason.SOLD_OUT: "sold out",
}
# Changes that replace much of the cart: other pages hear of them in one sentence.
ELSEWHERE_BY_SOURCE = {
    Source.MERGE: "Items picked before signing in were added to this cart.",
    Source.RESTORE: "The cart was restored to an earlier version on another device.",
    Source.SUPPORT: "Customer support restored an earlier version of your cart.",
}


def item(quantity: int, name: str, options: Options = ()) -> str:
    detail = f" ({', '.join(f'{k}: {v}' for k, v in options)})" if options else ""
    return f"{quantity} × {name}{detail}"


def merge_notice(report: MergeReport, names: Mapping[str, str]) -> str:
    if report.empty:
        return ""
    parts = []
    if report.merged:
        merged = ", ".join(
            item(a.quantity, names.get(a.sku, a.sku), a.options) for a in report.merged
        )
        parts.append(f"We added what you picked before signing in to your cart: {merged}.")
    for s in report.shortfalls:
        name = names.get(s.sku, s.sku)
        kept = f"kept {s.kept} of {s.requested}" if s.kept else f"could not add {s.requested}"
        parts.append(f"{name}: {kept} ({REASONS[s.reason]}).")
    return " ".join(parts)


def change_notice(change: Change, names: Mapping[str, str]) -> str:
    """What one change did, in words: "Added 2 × Blue Mug", "Removed Red Scarf"."""
    op = change.op
    if op is None:
        return "Your cart is up to date."
    match op:
        case AddLine(sku=sku, quantity=quantity, options=options):
            return f"Added {item(quantity, names.get(sku, sku), options)}."
        case SetQuantity(line_id=line_id, quantity=quantity):
            line = change.before.line(line_id)
            name = names.get(line.sku, line.sku) if line else "a line"
            return f"{name}: quantity now {quantity}." if quantity else f"Removed {name}."
        case RemoveLine(line_id=line_id):
            line = change.before.line(line_id)
            return f"Removed {names.get(line.sku, line.sku) if line else 'a line'}."
        case Clear():
            return "The cart was emptied."
    return "Your cart changed."


def skus_named_by(change: Change) -> set[str]:
    op = change.op
    if isinstance(op, AddLine):
        return {op.sku}
    if isinstance(op, SetQuantity | RemoveLine):
        line = change.before.line(op.line_id)
        return {line.sku} if line else set()
    return set()


def change_notice_elsewhere(change: Change, names: Mapping[str, str]) -> str:
    """The same change as other pages of the shopper hear of it."""
    if change.source in ELSEWHERE_BY_SOURCE:
        return ELSEWHERE_BY_SOURCE[change.source]
    match change.op:
        case AddLine(sku=sku, quantity=quantity, options=options):
            return f"{item(quantity, names.get(sku, sku), options)} added on another device."
        case SetQuantity(line_id=line_id, quantity=quantity):
            line = change.before.line(line_id)
            name = names.get(line.sku, line.sku) if line else "A line"
            if quantity:
                return f"{name} set to {quantity} on another device."
            return f"{name} removed on another device."
        case RemoveLine(line_id=line_id):
            line = change.before.line(line_id)
            return (
                f"{names.get(line.sku, line.sku) if line else 'A line'} removed on another device."
            )
        case Clear():
            return "The cart was emptied on another device."
    return ""


def revision_summary(op: Op, names: Mapping[str, str]) -> str:
    """One line of the timeline: what a revision did."""
    match op:
        case AddLine(sku=sku, quantity=quantity, options=options):
            return f"Added {item(quantity, names.get(sku, sku), options)}"
        case SetQuantity(quantity=0, sku=sku) | RemoveLine(sku=sku):
            return f"Removed {names.get(sku, sku or 'a line')}"
        case SetQuantity(quantity=quantity, sku=sku):
            return f"{names.get(sku, sku or 'A line')}: quantity set to {quantity}"
        case Clear():
            return "Emptied the cart"
        case MergeIn(adds=adds):
            shown = ", ".join(
                item(a.quantity, names.get(a.sku, a.sku), a.options) for a in adds[:3]
            )
            more = f" and {len(adds) - 3} more" if len(adds) > 3 else ""
            return f"Added at sign-in: {shown}{more}"
        case Replace(lines=lines, restored=restored):
            count = sum(line.quantity for line in lines)
            return f"Restored the cart as it was at revision {restored} ({count} items)"
        case TakeOrdered(order_number=number, taken=taken):
            count = sum(line.quantity for line in taken)
            return f"Ordered {count} items (order {number})"
    return "Changed the cart"


def skus_in(op: Op) -> set[str]:
    match op:
        case AddLine(sku=sku) | SetQuantity(sku=sku) | RemoveLine(sku=sku):
            return {sku}
        case MergeIn(adds=adds):
            return {a.sku for a in adds[:3]}
    return set()


def restore_notice(
    revision: int,
    unrestored: Iterable[Shortfall],
    names: Mapping[str, str],
    whose: str = "Your cart is",
) -> str:
    text = f"{whose} back as it was at revision {revision}."
    for short in unrestored:
        name = names.get(short.sku, short.sku)
        kept = f"kept {short.kept} of {short.requested}" if short.kept else "not restored"
        text += f" {name}: {kept} ({REASONS[short.reason]})."
    return text
