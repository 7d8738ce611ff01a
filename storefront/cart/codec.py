"""Compact bytes for carts and operations, before they are sealed.

Carts are JSON arrays compressed with zlib (a 1,000-line cart is rewritten on every change, so
small matters); operations are short JSON arrays, too small to gain from compression.
"""

from __future__ import annotations

import json
import zlib

from storefront.cart.state import (
    AddLine,
    Cart,
    Clear,
    Line,
    MergeIn,
    Op,
    RemoveLine,
    Replace,
    SetQuantity,
    TakeOrdered,
)

_dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


def _line_row(line: Line) -> list:
    # [id, sku, quantity] + [options] if any + [price when added] if known: the rows of carts
    # saved before lines remembered a price, three or four long, still read (price unknown).
    row = [line.id, line.sku, line.quantity]
    if line.options or line.price_cents is not None:
        row.append(dict(line.options))
    if line.price_cents is not None:
        row.append(line.price_cents)
    return row


def _row_line(row: list) -> Line:
    options = tuple(sorted(row[3].items())) if len(row) > 3 else ()
    price = row[4] if len(row) > 4 else None
    return Line(row[0], row[1], row[2], options, price)


def _encoded_row(line: Line) -> str:
    encoded = line.encoded
    if encoded is None:
        encoded = _dumps(_line_row(line))
        object.__setattr__(line, "encoded", encoded)  # a cache on an immutable line
    return encoded


def encode_cart(cart: Cart) -> bytes:
    # The same JSON array as encoding the rows at once, from each line's remembered row.
    # Level 1: half the time of the default level for 10% more bytes, on every change.
    text = "[" + ",".join([_encoded_row(line) for line in cart.lines]) + "]"
    return zlib.compress(text.encode(), 1)


def decode_cart(data: bytes) -> Cart:
    return Cart.of(_row_line(row) for row in json.loads(zlib.decompress(data)))


def _add_row(op: AddLine) -> list:
    return ["a", *_line_row(Line(op.line_id, op.sku, op.quantity, op.options, op.price_cents))]


def _row_add(row: list) -> AddLine:
    line = _row_line(row)
    return AddLine(line.id, line.sku, line.quantity, line.options, line.price_cents)


def encode_op(op: Op) -> bytes:
    match op:
        case AddLine():
            row = _add_row(op)
        case SetQuantity(line_id=line_id, quantity=quantity, sku=sku):
            row = ["q", line_id, quantity, sku]
        case RemoveLine(line_id=line_id, sku=sku):
            row = ["r", line_id, sku]
        case Clear():
            row = ["c"]
        case MergeIn(adds=adds):
            row = ["m", [_add_row(a)[1:] for a in adds]]
        case Replace(lines=lines, restored=restored):
            row = ["s", [_line_row(line) for line in lines], restored]
        case TakeOrdered(order_number=number, taken=taken):
            row = ["o", number, [_line_row(line) for line in taken]]
        case _:
            raise TypeError(f"not a cart operation: {op!r}")
    return _dumps(row).encode()


def decode_op(data: bytes) -> Op:
    row = json.loads(data)
    match row[0]:
        case "a":
            return _row_add(row[1:])
        case "q":
            return SetQuantity(*row[1:4])
        case "r":
            return RemoveLine(*row[1:3])
        case "c":
            return Clear()
        case "m":
            return MergeIn(tuple(_row_add(r) for r in row[1]))
        case "s":
            return Replace(tuple(_row_line(r) for r in row[1]), row[2])
        case "o":
            return TakeOrdered(row[1], tuple(_row_line(r) for r in row[2]))
    raise ValueError(f"unknown operation tag {row[0]!r}")
