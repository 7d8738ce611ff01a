"""The values every layer of the cart passes around: whose cart, which request, what changed."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from enum import IntEnum, StrEnum
from functools import lru_cache

from storefront.cart.state import Cart, Op


class CartStatus(StrEnum):
    """A cart row is never deleted by the shopper's actions; its status says what became of it."""

    OPEN = "open"
    MERGED = "merged"  # a guest cart taken into an account's at sign-in
    EXPIRED = "expired"  # a guest cart idle past its lifetime
    # A member's own cart while they share another account's: given back when sharing ends.
    ASIDE = "aside"


class Source(IntEnum):
    """What made a revision (stored as its number)."""

    CHANGE = 1
    MERGE = 2
    RESTORE = 3
    SUPPORT = 4
    ORDER = 5  # an order took the lines it bought

    @property
    def label(self) -> str:
        return self.name.lower()


@dataclass(frozen=True)
class Owner:
    """Whose cart: a signed-in user's, or a guest's (by the hash of the cookie token)."""

    user_id: int | None = None
    guest_key: bytes | None = None

    @classmethod
    def guest(cls, token: str) -> Owner:
        return _guest_owner(token)

    @classmethod
    def user(cls, user_id: int) -> Owner:
        return cls(user_id=user_id)

    @property
    def is_guest(self) -> bool:
        return self.user_id is None

    @property
    def channel(self) -> str:
        """The shopper's one name outside the database: live-sync channel, rate-limit key."""
        if self.user_id is not None:
            return f"user:{self.user_id}"
        return f"guest:{self.guest_key.hex()}"


@lru_cache(maxsize=4096)
def _guest_owner(token: str) -> Owner:
    # A request names its shopper several times (the change, the rate limit, the log line):
    # the hash once. Owners are immutable, so one may be shared.
    return Owner(guest_key=hashlib.sha256(token.encode()).digest())


@dataclass(frozen=True)
class IdempotencyKey:
    key: str
    request: bytes  # method, path and canonical JSON body of the request

    @property
    def key_hash(self) -> bytes:
        return hashlib.sha256(self.key.encode()).digest()[:16]

    @property
    def request_hash(self) -> bytes:
        return hashlib.sha256(self.request).digest()[:16]


@dataclass(frozen=True)
class Change:
    """One committed change (or, ``replayed``, the answer remembered for a repeated key)."""

    cart_id: int
    version: int
    before: Cart
    after: Cart
    op: Op | None
    at: datetime  # when it was committed (for a replay: when it was answered again)
    source: Source = Source.CHANGE
    replayed: bool = False  # a repeat of an idempotency key: nothing was applied
    # A cart shared by two accounts: who made the change, and both accounts (owner first);
    # an unshared cart leaves them empty.
    actor: int | None = None
    sharers: tuple[int, ...] = ()

    @property
    def channels(self) -> tuple[str, ...]:
        """The live channels of a shared cart's accounts (empty: only the shopper's own)."""
        return tuple(Owner.user(user_id).channel for user_id in self.sharers)

    def audience(self, owner: Owner) -> tuple[str, ...]:
        """Every channel whose pages show this cart: both accounts of a shared cart, else the
        shopper's own."""
        return self.channels or (owner.channel,)
