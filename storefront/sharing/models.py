"""The invitation to share a cart. Who shares a cart lives on the cart row itself
(``carts.member_user_id``), where the cart's own lookup finds it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, LargeBinary
from sqlalchemy.orm import Mapped, mapped_column

from storefront.clock import now
from storefront.dbtypes import UTCDateTime
from storefront.extensions import db


class CartInvitation(db.Model):
    """One link an owner handed out. Only the SHA-256 of its token is kept: the database alone
    cannot be used to join anyone's cart."""

    __tablename__ = "cart_invitations"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    cart_id: Mapped[int] = mapped_column(ForeignKey("carts.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Set when accepted, or when the owner made a newer link or stopped sharing (revoked).
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    used_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    __table_args__ = (Index("ix_cart_invitations_cart_id", "cart_id"),)
