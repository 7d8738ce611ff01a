"""Carts this process has just opened or written, kept decoded.

Opening a sealed 1,000-line cart (decrypt, decompress, parse, index) costs more than the rest
of a change to it, and the same cart is opened again by the shopper's next request. A cart is
found only by the exact sealed bytes it was opened from, with the cart id and version they are
bound to: any change anywhere (another process, a key rotation) writes new bytes, so a stale
entry can never be returned, only be replaced. One entry per cart: its newest state.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable

from storefront.cart.state import Cart

# About 0.3 KB of memory a line: 20,000 lines is a few MB, twenty 1,000-line carts or many
# more ordinary ones.
MAX_LINES = 20_000


class OpenedCarts:
    """A least-recently-used map of cart id to its newest decoded state, with the version and
    sealed bytes it was opened from; bounded by the number of lines held."""

    def __init__(self, max_lines: int = MAX_LINES):
        self._max_lines = max_lines
        self._lines = 0
        self._carts: OrderedDict[int, tuple[int, bytes, Cart]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, cart_id: int, version: int, sealed: bytes) -> Cart | None:
        with self._lock:
            entry = self._carts.get(cart_id)
            if entry is None or entry[0] != version or entry[1] != sealed:
                return None
            self._carts.move_to_end(cart_id)
            return entry[2]

    def newest(self, cart_id: int) -> Cart | None:
        """The newest state this process holds of the cart, whatever its version: a guess of
        what it holds now, never to decide on."""
        entry = self._carts.get(cart_id)
        return None if entry is None else entry[2]

    def put(self, cart_id: int, version: int, sealed: bytes, cart: Cart) -> None:
        with self._lock:
            old = self._carts.get(cart_id)
            if old is not None and old[0] > version:
                return  # a reader that opened an older version than a writer just cached
            if old is not None:
                del self._carts[cart_id]
                self._lines -= _size(old[2])
            if _size(cart) > self._max_lines:
                return
            self._carts[cart_id] = (version, bytes(sealed), cart)
            self._lines += _size(cart)
            while self._lines > self._max_lines:
                _, (_, _, oldest) = self._carts.popitem(last=False)
                self._lines -= _size(oldest)

    def discard(self, cart_ids: Iterable[int]) -> None:
        """Deleted carts: their decoded contents leave this process's memory now."""
        with self._lock:
            for cart_id in cart_ids:
                old = self._carts.pop(cart_id, None)
                if old is not None:
                    self._lines -= _size(old[2])

    def __len__(self) -> int:
        return len(self._carts)


def _size(cart: Cart) -> int:
    return max(1, len(cart))  # an empty cart still takes an entry
