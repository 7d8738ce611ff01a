from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from storefront.clock import now
from storefront.dbtypes import UTCDateTime
from storefront.extensions import db


class OutboxMessage(db.Model):
    """One email to send. Written in the transaction of what causes it; a job sends it later.

    The message itself (addresses, subject, both parts) is sealed: it holds the shopper's
    address and what they ordered.
    """

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(primary_key=True)
    # "order-placed:1001", "password-reset:<user>:<nonce>": the same cause never sends twice.
    dedupe_key: Mapped[str] = mapped_column(String(120), unique=True)
    kind: Mapped[str] = mapped_column(String(32))
    message_id: Mapped[str] = mapped_column(String(255))
    sealed: Mapped[bytes] = mapped_column(LargeBinary)
    status: Mapped[str] = mapped_column(String(8), default="pending")  # pending sent failed dropped
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    # A worker that claimed the message holds it until then; past it, another may take it.
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    leased_by: Mapped[str | None] = mapped_column(String(64))
    last_error: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_outbox_due", "status", "next_attempt_at"),)


class CartReminder(db.Model):
    """A reminder about a cart left idle at ``version``: one per idle period (a change starts a
    new one), with the prices it quoted, so its page can say what changed since."""

    __tablename__ = "cart_reminders"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    cart_id: Mapped[int] = mapped_column(ForeignKey("carts.id", ondelete="CASCADE"))
    version: Mapped[int]
    prices: Mapped[str] = mapped_column(Text)  # JSON {sku: minor units} when it was sent
    # No email: the cart held nothing left to remind of at that version.
    skipped: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    # The shopper brought the cart back through it, and the order that followed: a recovery,
    # as the analytics count it.
    recovered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    order_number: Mapped[int | None]

    __table_args__ = (
        UniqueConstraint("cart_id", "version", name="uq_cart_reminders_cart_version"),
    )
