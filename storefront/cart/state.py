"""The cart as an immutable value, and the pure functions that change it.

No Flask, no SQL, no clock: ``apply(cart, op, limits)`` and ``merge(into, other, limits)`` are
where the cart's rules live, and where the property tests aim. ``apply`` with ``limits=None``
replays an op that was already accepted once (history, restore) without checking it again.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType

from storefront.cart.ops import (
    AddLine,
    Clear,
    MergeIn,
    Op,
    Options,
    RemoveLine,
    Replace,
    SetQuantity,
    TakeOrdered,
)
from storefront.errors import (
    InvalidQuantity,
    LineLimit,
    NotFound,
    OutOfStock,
    QuantityLimit,
)

LineKey = tuple[str, Options]


def options_key(options: Mapping[str, str]) -> Options:
    return tuple(sorted(options.items()))


@dataclass(frozen=True, slots=True)
class Line:
    id: str
    sku: str
    quantity: int
    options: Options = ()
    # The unit price when the shopper last added units of it (None: unknown, a cart saved
    # before lines remembered it): the cart page says what changed since.
    price_cents: int | None = None
    # Not part of the line: its row as storefront/cart/codec.py wrote it, kept with it. A
    # 1,000-line cart is encoded whole on every change, and all of its lines but the changed
    # ones are the very same objects as before (issue 10).
    encoded: str | None = field(default=None, compare=False, repr=False)

    def with_quantity(self, quantity: int) -> Line:
        return Line(self.id, self.sku, quantity, self.options, self.price_cents)

    @property
    def key(self) -> LineKey:
        return (self.sku, self.options)


@dataclass(frozen=True)
class Cart:
    """Lines in the order they were first added, indexed by id and by (sku, options)."""

    _lines: Mapping[str, Line] = field(default_factory=dict)
    _by_key: Mapping[LineKey, str] = field(default_factory=dict)

    @classmethod
    def of(cls, lines: Iterable[Line]) -> Cart:
        by_id = {line.id: line for line in lines}
        return cls(MappingProxyType(by_id), MappingProxyType({v.key: k for k, v in by_id.items()}))

    @property
    def lines(self) -> tuple[Line, ...]:
        return tuple(self._lines.values())

    def __len__(self) -> int:
        return len(self._lines)

    def line(self, line_id: str) -> Line | None:
        return self._lines.get(line_id)

    def line_for(self, key: LineKey) -> Line | None:
        line_id = self._by_key.get(key)
        return None if line_id is None else self._lines[line_id]

    @property
    def item_count(self) -> int:
        return sum(line.quantity for line in self._lines.values())

    def _with(self, line: Line) -> Cart:
        lines, keys = dict(self._lines), dict(self._by_key)
        lines[line.id] = line
        keys[line.key] = line.id
        return Cart(MappingProxyType(lines), MappingProxyType(keys))

    def _without(self, line_id: str) -> Cart:
        lines, keys = dict(self._lines), dict(self._by_key)
        del keys[lines.pop(line_id).key]
        return Cart(MappingProxyType(lines), MappingProxyType(keys))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Cart) and self.lines == other.lines

    def __hash__(self) -> int:
        return hash(self.lines)


EMPTY = Cart()


@dataclass(frozen=True)
class Limits:
    max_lines: int
    max_line_quantity: int
    # Units in stock for the skus an op touches; 0 for a retired product.
    stock: Mapping[str, int] = field(default_factory=dict)

    def cap(self, sku: str) -> int:
        return min(self.max_line_quantity, max(0, self.stock.get(sku, 0)))


class LineIdTaken(ValueError):
    """A new line was given the id of another line (ids are random: a programming error)."""


def apply(cart: Cart, op: Op, limits: Limits | None = None) -> Cart:
    match op:
        case AddLine():
            return _add(cart, op, limits)
        case SetQuantity():
            return _set_quantity(cart, op, limits)
        case RemoveLine(line_id=line_id):
            _require_line(cart, line_id)
            return cart._without(line_id)
        case Clear():
            return EMPTY
        case MergeIn(adds=adds):
            for add in adds:
                cart = _add(cart, add, None)
            return cart
        case Replace(lines=lines):
            return Cart.of(lines)
        case TakeOrdered():
            return replay(cart, (op,))
    raise TypeError(f"not a cart operation: {op!r}")


def replay(cart: Cart, ops: Iterable[Op]) -> Cart:
    """``apply`` each already-accepted op in turn, without checks.

    Same result as folding ``apply``, but on one mutable working copy: a restore replays up to
    ~1,000 ops on a 1,000-line cart, and copying the cart for every op would dominate.
    """
    lines: dict[str, Line] = dict(cart._lines)
    keys: dict[LineKey, str] = dict(cart._by_key)

    def add(op: AddLine) -> None:
        line_id = keys.get((op.sku, op.options))
        if line_id is not None:
            lines[line_id] = _grown(lines[line_id], op)
        else:
            lines[op.line_id] = Line(op.line_id, op.sku, op.quantity, op.options, op.price_cents)
            keys[(op.sku, op.options)] = op.line_id

    for op in ops:
        match op:
            case AddLine():
                add(op)
            case SetQuantity(line_id=line_id, quantity=0) | RemoveLine(line_id=line_id):
                if line_id in lines:
                    del keys[lines.pop(line_id).key]
            case SetQuantity(line_id=line_id, quantity=quantity):
                lines[line_id] = lines[line_id].with_quantity(quantity)
            case Clear():
                lines.clear()
                keys.clear()
            case MergeIn(adds=adds):
                for merged in adds:
                    add(merged)
            case Replace(lines=new_lines):
                lines = {line.id: line for line in new_lines}
                keys = {line.key: line.id for line in new_lines}
            case TakeOrdered(taken=taken):
                for ordered in taken:
                    line_id = keys.get(ordered.key)
                    if line_id is None:
                        continue
                    old = lines[line_id]
                    left = old.quantity - ordered.quantity
                    if left > 0:
                        lines[line_id] = old.with_quantity(left)
                    else:
                        del keys[lines.pop(line_id).key]
            case _:
                raise TypeError(f"not a cart operation: {op!r}")
    return Cart(MappingProxyType(lines), MappingProxyType(keys))


def _require_line(cart: Cart, line_id: str) -> Line:
    line = cart.line(line_id)
    if line is None:
        raise NotFound("That line is not in your cart.")
    return line


def check_quantity(quantity: object, minimum: int) -> int:
    """A quantity a shopper asked for: a whole number (not a boolean) of at least ``minimum``."""
    if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < minimum:
        raise InvalidQuantity(f"Quantity must be a whole number of at least {minimum}.")
    return quantity


def _check_limits(sku: str, old: int, new: int, limits: Limits) -> None:
    if new <= old:
        return  # lowering a line is always allowed, even below a shrunken stock
    if new > limits.max_line_quantity:
        raise QuantityLimit(f"A line can hold at most {limits.max_line_quantity} of {sku}.")
    if new > limits.stock.get(sku, 0):
        in_stock = max(0, limits.stock.get(sku, 0))
        raise OutOfStock(
            f"Only {in_stock} of {sku} in stock." if in_stock else f"{sku} is out of stock."
        )


def _add(cart: Cart, op: AddLine, limits: Limits | None) -> Cart:
    existing = cart.line_for((op.sku, op.options))
    if limits is not None:
        check_quantity(op.quantity, 1)
        old = existing.quantity if existing else 0
        _check_limits(op.sku, old, old + op.quantity, limits)
        if existing is None and len(cart) >= limits.max_lines:
            raise LineLimit(f"A cart can hold at most {limits.max_lines} different lines.")
    if existing is None and cart.line(op.line_id) is not None:
        raise LineIdTaken(f"line id {op.line_id!r} is already used by another line")
    if existing is not None:
        return cart._with(_grown(existing, op))
    return cart._with(Line(op.line_id, op.sku, op.quantity, op.options, op.price_cents))


def _grown(line: Line, op: AddLine) -> Line:
    # Adding again is seeing the price again: the line remembers the latest one it was added at.
    price = line.price_cents if op.price_cents is None else op.price_cents
    return Line(line.id, line.sku, line.quantity + op.quantity, line.options, price)


def _set_quantity(cart: Cart, op: SetQuantity, limits: Limits | None) -> Cart:
    if limits is not None:
        check_quantity(op.quantity, 0)
    line = _require_line(cart, op.line_id)
    if op.quantity == 0:
        return cart._without(line.id)
    if limits is not None:
        _check_limits(line.sku, line.quantity, op.quantity, limits)
    return cart._with(line.with_quantity(op.quantity))


# --- merge ------------------------------------------------------------------------------------


class Reason(StrEnum):
    """Why units of a line could not be kept (merge) or brought back (restore)."""

    STOCK = "stock"  # fewer in stock than asked for
    QUANTITY_LIMIT = "quantity_limit"
    LINE_LIMIT = "line_limit"
    RETIRED = "retired"  # none kept: the product is no longer sold
    SOLD_OUT = "sold_out"  # none kept: none in stock


@dataclass(frozen=True)
class Shortfall:
    sku: str
    options: Options
    requested: int
    kept: int
    reason: Reason


@dataclass(frozen=True)
class MergeReport:
    merged: tuple[AddLine, ...] = ()
    shortfalls: tuple[Shortfall, ...] = ()

    @property
    def empty(self) -> bool:
        return not self.merged and not self.shortfalls


def _free_id(cart: Cart, line_id: str) -> str:
    while cart.line(line_id) is not None:
        line_id += "m"
    return line_id


def merge(into: Cart, other: Cart, limits: Limits) -> tuple[Cart, MergeReport]:
    """Move ``other``'s lines into ``into``; matching lines add up, clamped to stock and limits.

    Every unit of ``other`` is either kept or reported in a shortfall, never silently lost.
    """
    adds: list[AddLine] = []
    shortfalls: list[Shortfall] = []
    cart = into
    for line in other.lines:
        existing = cart.line_for(line.key)
        have = existing.quantity if existing else 0
        cap = limits.cap(line.sku)
        if existing is None and len(cart) >= limits.max_lines:
            take, reason = 0, Reason.LINE_LIMIT
        else:
            take = max(0, min(line.quantity, cap - have))
            in_stock = limits.stock.get(line.sku, 0)
            reason = Reason.STOCK if in_stock < limits.max_line_quantity else Reason.QUANTITY_LIMIT
        if take:
            add = AddLine(_free_id(cart, line.id), line.sku, take, line.options, line.price_cents)
            cart = _add(cart, add, None)
            adds.append(add)
        if take < line.quantity:
            shortfalls.append(Shortfall(line.sku, line.options, line.quantity, take, reason))
    return cart, MergeReport(tuple(adds), tuple(shortfalls))
