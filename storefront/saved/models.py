"""Lines saved for later. They belong to the cart row, so they follow the cart wherever it
goes: an account's devices, a guest's cookie, a handoff, an account's deletion."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from storefront.dbtypes import UTCDateTime
from storefront.extensions import db


class SavedLine(db.Model):
    __tablename__ = "saved_lines"

    id: Mapped[str] = mapped_column(String(24), primary_key=True)
    cart_id: Mapped[int] = mapped_column(ForeignKey("carts.id", ondelete="CASCADE"))
    saved_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # SKU, quantity, options (an engraving is personal) and the price when added: sealed.
    sealed: Mapped[bytes] = mapped_column(LargeBinary)

    __table_args__ = (Index("ix_saved_lines_cart_id", "cart_id", "saved_at"),)
