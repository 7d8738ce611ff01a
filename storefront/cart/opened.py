"""Carts this process has just opened or written, kept decoded.

Opening a sealed 1,000-line cart (decrypt, decompress, parse, index) costs more than the rest
of a change to it, and the same cart is opened again by the shopper's next request. An entry is
found only by the exact sealed bytes it was opened from, with the cart id and version they are
bound to: any change anywhere (another process, a key rotation) writes new bytes, so a stale
entry can never be returned, only go unused until it ages out.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from storefront.cart.state import Cart

# About 0.3 KB of memory a line: 20,000 lines is a few MB, twenty 1,000-line carts or many
# more ordinary ones.
MAX_LINES = 20_000

Key = tuple[int, int, bytes]


class OpenedCarts:
    """A least-recently-used map of (cart id, version, sealed state) to the decoded cart,
    bounded by the number of lines held."""

    def __init__(self, max_lines: int = MAX_LINES):
        self._max_lines = max_lines
        self._lines = 0
        self._carts: OrderedDict[Key, Cart] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, cart_id: int, version: int, sealed: bytes) -> Cart | None:
        key = (cart_id, version, bytes(sealed))
        with self._lock:
            cart = self._carts.get(key)
            if cart is not None:
                self._carts.move_to_end(key)
            return cart

    def put(self, cart_id: int, version: int, sealed: bytes, cart: Cart) -> None:
        size = _size(cart)
        if size > self._max_lines:
            return
        key = (cart_id, version, bytes(sealed))
        with self._lock:
            if key in self._carts:
                return
            self._carts[key] = cart
            self._lines += size
            while self._lines > self._max_lines:
                _, oldest = self._carts.popitem(last=False)
                self._lines -= _size(oldest)

    def __len__(self) -> int:
        return len(self._carts)


def _size(cart: Cart) -> int:
    return max(1, len(cart))  # an empty cart still takes an entry
