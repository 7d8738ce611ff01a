"""The operations that change a cart: what a revision records and what ``state.apply`` does."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from storefront.cart.state import Line

# A line's chosen options, sorted by name: part of what makes two lines the same line.
Options = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class AddLine:
    """Add units; a line with the same sku and options grows, otherwise ``line_id`` is new.
    ``price_cents``: the unit price the shopper saw when adding (None: not known, an older
    revision); the line remembers the latest."""

    line_id: str
    sku: str
    quantity: int
    options: Options = ()
    price_cents: int | None = None


@dataclass(frozen=True)
class SetQuantity:
    """Set a line's quantity; 0 removes it. ``sku`` only names the line in history."""

    line_id: str
    quantity: int
    sku: str = ""


@dataclass(frozen=True)
class RemoveLine:
    line_id: str
    sku: str = ""


@dataclass(frozen=True)
class Clear:
    pass


@dataclass(frozen=True)
class MergeIn:
    """The lines a merge added, already clamped: replaying it needs no catalog."""

    adds: tuple[AddLine, ...]


@dataclass(frozen=True)
class Replace:
    """The whole cart set to these lines: a restore of revision ``restored``."""

    lines: tuple[Line, ...]
    restored: int = 0


@dataclass(frozen=True)
class TakeOrdered:
    """An order took these units: each line with the same sku and options shrinks by them (or
    goes). Lines added or raised on another device while the payment ran keep the rest."""

    order_number: int
    taken: tuple[Line, ...]


Op = AddLine | SetQuantity | RemoveLine | Clear | MergeIn | Replace | TakeOrdered
