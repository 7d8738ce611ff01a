from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from storefront.clock import now
from storefront.dbtypes import UTCDateTime
from storefront.extensions import db


class StaffAction(db.Model):
    """The back office's audit log: which staff member changed what, when, from what to what."""

    __tablename__ = "staff_actions"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=now, index=True)
    staff_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # Kept even if the account goes, so the log still says who it was.
    staff_email: Mapped[str] = mapped_column(String(254))
    # "product.update", "order.refund", "coupon.create", ...: the noun first, so a filter by
    # area is a prefix.
    action: Mapped[str] = mapped_column(String(40), index=True)
    # What it was done to, as staff search for it: a SKU, an order number, a coupon code.
    subject: Mapped[str] = mapped_column(String(120), index=True)
    # JSON objects of the fields that changed, before and after. Never a shopper's personal
    # data: those stay sealed in the order.
    before: Mapped[str] = mapped_column(Text, default="{}")
    after: Mapped[str] = mapped_column(Text, default="{}")
