"""Orders and the stock ledger.

An order's amounts and status are clear columns (reports and the back office read them); who
ordered and what (email, address, phone, lines with their options) is sealed, bound to the
order's number.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from storefront.clock import now
from storefront.dbtypes import UTCDateTime
from storefront.extensions import db

AMOUNTS = ("subtotal", "discount", "shipping", "tax", "tax_included", "total")


class Order(db.Model):
    __tablename__ = "orders"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[int] = mapped_column(unique=True)
    status: Mapped[str] = mapped_column(String(16))  # pending, paid, fulfilled, cancelled, refunded
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    cart_id: Mapped[int | None] = mapped_column(ForeignKey("carts.id", ondelete="SET NULL"))
    # The cart's version before the order took its lines: "buy again" restores it.
    cart_version_before: Mapped[int]
    attempt_id: Mapped[str] = mapped_column(String(32), unique=True)
    currency: Mapped[str] = mapped_column(String(3))
    subtotal: Mapped[int] = mapped_column(BigInteger)
    discount: Mapped[int] = mapped_column(BigInteger)
    shipping: Mapped[int] = mapped_column(BigInteger)
    tax: Mapped[int] = mapped_column(BigInteger)
    tax_included: Mapped[int] = mapped_column(BigInteger)
    total: Mapped[int] = mapped_column(BigInteger)
    shipping_method: Mapped[str] = mapped_column(String(32))
    coupon_code: Mapped[str | None] = mapped_column(String(32))
    provider: Mapped[str] = mapped_column(String(16))
    payment_status: Mapped[str] = mapped_column(String(16))
    payment_reference: Mapped[str | None] = mapped_column(String(255))
    placed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # A pending order's stock is held until then; the expiry job cancels it after.
    hold_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sealed: Mapped[bytes] = mapped_column(LargeBinary)
    # HMAC of the normalised email under the app's secret (listing.email_hash): staff find an
    # order by its exact email without the email leaving the seal. None until filled for
    # orders placed before it existed.
    email_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    # What went back to the payer so far; the status becomes "refunded" when it reaches total.
    refunded: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    tracking: Mapped[str | None] = mapped_column(String(500))

    __table_args__ = (
        CheckConstraint(
            "subtotal >= 0 AND discount >= 0 AND shipping >= 0 AND tax >= 0 "
            "AND tax_included >= 0 AND total >= 0",
            name="ck_orders_amounts",
        ),
        CheckConstraint("total = subtotal - discount + shipping + tax", name="ck_orders_total"),
        CheckConstraint("refunded >= 0 AND refunded <= total", name="ck_orders_refunded"),
        Index("ix_orders_status_hold", "status", "hold_until"),
    )


class OrderEvent(db.Model):
    """One step of an order's timeline that staff took (paid by hand, fulfilled, cancelled,
    refunded). Steps the shop took itself (placed, paid by the provider, expired) are read
    from the order's own columns (timeline.py)."""

    __tablename__ = "order_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    kind: Mapped[str] = mapped_column(String(16))  # paid, fulfilled, cancelled, refunded
    staff_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # Kept even if the account goes, as in the audit log.
    actor: Mapped[str] = mapped_column(String(254))
    amount: Mapped[int | None] = mapped_column(BigInteger)  # a refund's amount
    note: Mapped[str | None] = mapped_column(String(500))  # tracking note, refund route


class StockMovement(db.Model):
    """Every change of a product's stock, so the stock can be reconciled with its history."""

    __tablename__ = "stock_movements"

    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = mapped_column(
        ForeignKey("products.id", ondelete="CASCADE"), index=True
    )
    delta: Mapped[int]
    # opening, order, release (a payment that failed), cancel, refund, restock, staff
    reason: Mapped[str] = mapped_column(String(16))
    # The payment attempt (and so the order) that took or gave back the units.
    attempt_id: Mapped[str | None] = mapped_column(String(32), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
