from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Index, Integer, LargeBinary, SmallInteger, String, text
from sqlalchemy.orm import Mapped, mapped_column

from storefront.dbtypes import UTCDateTime
from storefront.extensions import db


class CommerceEvent(db.Model):
    """One thing a shopper (or the shop for them) did, written in the same transaction as the
    change itself, so the analytics count exactly. It holds the least the analytics need:
    no email, no account or cart id, no options or free text (see SECURITY.md)."""

    __tablename__ = "commerce_events"
    __table_args__ = (
        Index("ix_commerce_events_kind_at", "kind", "at"),
        # Revenue asks, for each order placed in a range, whether it was paid. Partial: the
        # cart events (most of them, on the add's path) have no order and skip the index.
        Index(
            "ix_commerce_events_order_number",
            "order_number",
            sqlite_where=text("order_number IS NOT NULL"),
            postgresql_where=text("order_number IS NOT NULL"),
        ),
    )

    # 64-bit on PostgreSQL (a busy shop writes many events a day); SQLite's INTEGER primary
    # key is its 64-bit rowid already.
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    kind: Mapped[int] = mapped_column(SmallInteger)  # analytics.kinds.EventKind
    # HMAC of the shopper's channel under a key derived from the app's secret (16 bytes):
    # distinct shoppers can be counted, no shopper can be named from this table alone.
    shopper: Mapped[bytes] = mapped_column(LargeBinary(16))
    # A merge's guest shopper, so the funnel can follow a guest who signed in as one shopper.
    peer: Mapped[bytes | None] = mapped_column(LargeBinary(16))
    device: Mapped[int] = mapped_column(SmallInteger, default=0)  # analytics.kinds.DeviceKind
    sku: Mapped[str | None] = mapped_column(String(64))
    quantity: Mapped[int | None]  # units; signed for a quantity change
    # Order events: which order (its number is not personal), and its total in minor units.
    order_number: Mapped[int | None]
    amount_cents: Mapped[int | None] = mapped_column(BigInteger)
    # How many units the shopper's cart holds after this event (cart changes and order
    # placements only): whether a cart left idle still held something, so abandonment is
    # counted from the events alone, even after older events were pruned.
    cart_units: Mapped[int | None]
