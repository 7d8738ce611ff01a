"""Handoff codes. The code itself is never stored: only its keyed hash, and the guest token
it hands over sealed under the cart keyring, bound to this row."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, LargeBinary
from sqlalchemy.orm import Mapped, mapped_column

from storefront.dbtypes import UTCDateTime
from storefront.extensions import db


class HandoffCode(db.Model):
    __tablename__ = "handoff_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    code_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    cart_id: Mapped[int] = mapped_column(ForeignKey("carts.id", ondelete="CASCADE"))
    # The cart's version when the code was made: an order since then makes the code void.
    cart_version: Mapped[int]
    sealed: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        Index("ix_handoff_codes_cart_id", "cart_id"),
        Index("ix_handoff_codes_expires_at", "expires_at"),
    )
