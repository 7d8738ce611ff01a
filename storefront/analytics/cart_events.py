"""The commerce events a cart change makes, derived from the change itself (the cart before and
after, the operation, what made it) inside ``cart.store.write``: the one place every cart
change passes, so no change can happen without its events, nor an event without its change.

Merges and order placements write their own events (``merged`` with the guest's hash,
``order_placed`` with the order): the store sees only the account's side of a merge, and the
order's side of a placement.
"""

from __future__ import annotations

from datetime import datetime

from storefront.analytics import events
from storefront.analytics.kinds import DeviceKind, EventKind, device_kind
from storefront.cart.ops import AddLine, Clear, RemoveLine, Replace, SetQuantity
from storefront.cart.state import Cart, Op
from storefront.cart.types import Owner, Source


def record_change(
    owner: Owner, before: Cart, after: Cart, op: Op, *, source: Source, device: int, at: datetime
) -> None:
    """Inside the change's transaction, after its revision is written."""
    rows = list(_rows(before, after, op))
    if rows:
        events.record_many(
            owner.channel,
            rows,
            at=at,
            device=DeviceKind.SUPPORT if source is Source.SUPPORT else device_kind(device),
            cart_units=after.item_count,
        )


def _rows(before: Cart, after: Cart, op: Op):
    """(kind, sku, quantity) for each event ``op`` makes."""
    match op:
        case AddLine(sku=sku, options=options):
            had = before.line_for((sku, options))
            has = after.line_for((sku, options))
            if has is None:
                return
            if had is None:
                if not before.lines:
                    yield EventKind.CART_CREATED, None, None
                yield EventKind.LINE_ADDED, sku, has.quantity
            elif has.quantity != had.quantity:
                yield EventKind.QUANTITY_CHANGED, sku, has.quantity - had.quantity
        case SetQuantity(line_id=line_id) | RemoveLine(line_id=line_id):
            had, has = before.line(line_id), after.line(line_id)
            if had is None:
                return
            if has is None:
                yield EventKind.LINE_REMOVED, had.sku, had.quantity
            elif has.quantity != had.quantity:
                yield EventKind.QUANTITY_CHANGED, had.sku, has.quantity - had.quantity
        case Clear():
            if not before.lines:
                return
            for line in before.lines:
                yield EventKind.LINE_REMOVED, line.sku, line.quantity
            yield EventKind.CART_EMPTIED, None, len(before.lines)
        case Replace():
            yield EventKind.RESTORED, None, after.item_count - before.item_count
        case _:
            # MergeIn and TakeOrdered: written by the merge and by the order placement.
            return
