"""Checkout tables: what a shop charges for shipping and tax, its coupons, each cart's checkout
details, and every attempt to pay.

Shipping methods, tax rates and coupons are data the owner edits, never code. The shopper's
details (email, address, phone) are personal: they are sealed, bound to their cart, like the
cart itself.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    Index,
    LargeBinary,
    Numeric,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from storefront.clock import now
from storefront.dbtypes import UTCDateTime
from storefront.extensions import db


class ShippingMethod(db.Model):
    __tablename__ = "shipping_methods"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    price: Mapped[int]  # minor units
    # Free when the subtotal after discounts, before tax, reaches this.
    free_from: Mapped[int | None]
    # ISO 3166-1 alpha-2 codes, comma separated; empty: every country.
    countries: Mapped[str] = mapped_column(String(1000), default="")
    needs_address: Mapped[bool] = mapped_column(default=True)
    active: Mapped[bool] = mapped_column(default=True)
    position: Mapped[int] = mapped_column(default=0)

    __table_args__ = (CheckConstraint("price >= 0", name="ck_shipping_methods_price"),)

    @property
    def country_set(self) -> frozenset[str] | None:
        codes = frozenset(c.strip() for c in self.countries.split(",") if c.strip())
        return codes or None


class TaxRate(db.Model):
    __tablename__ = "tax_rates"

    id: Mapped[int] = mapped_column(primary_key=True)
    country: Mapped[str | None] = mapped_column(String(2))  # None: every country
    region: Mapped[str | None] = mapped_column(String(64))
    percent: Mapped[Decimal] = mapped_column(Numeric(7, 4))
    on_shipping: Mapped[bool] = mapped_column(default=True)
    # Switched off, a rate is kept (staff can switch it back on) but no price includes it.
    active: Mapped[bool] = mapped_column(default=True)

    __table_args__ = (UniqueConstraint("country", "region", name="uq_tax_rates_place"),)


class Coupon(db.Model):
    __tablename__ = "coupons"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)  # upper case
    kind: Mapped[str] = mapped_column(String(16))  # percent, fixed, free_shipping
    percent: Mapped[Decimal] = mapped_column(Numeric(7, 4), default=Decimal(0))
    amount: Mapped[int] = mapped_column(default=0)
    min_subtotal: Mapped[int] = mapped_column(default=0)
    starts_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    usage_limit: Mapped[int | None]
    used: Mapped[int] = mapped_column(default=0)
    once_per_customer: Mapped[bool] = mapped_column(default=False)
    active: Mapped[bool] = mapped_column(default=True)

    # The limit holds whatever the code does: a redemption is a conditional UPDATE, and this
    # refuses the one that would overshoot.
    __table_args__ = (
        CheckConstraint("used >= 0", name="ck_coupons_used"),
        CheckConstraint("usage_limit IS NULL OR used <= usage_limit", name="ck_coupons_limit"),
    )


class CouponUse(db.Model):
    """One use of a coupon by a payment attempt; deleted again if the payment fails."""

    __tablename__ = "coupon_uses"

    id: Mapped[int] = mapped_column(primary_key=True)
    coupon_id: Mapped[int] = mapped_column(ForeignKey("coupons.id", ondelete="CASCADE"))
    attempt_id: Mapped[str] = mapped_column(String(32), index=True)
    # A keyed hash of the customer's email, set only for once-per-customer coupons: the unique
    # constraint then refuses a second use however the requests race.
    customer: Mapped[bytes | None] = mapped_column(LargeBinary(32))

    __table_args__ = (UniqueConstraint("coupon_id", "customer", name="uq_coupon_uses_customer"),)


class CheckoutDetails(db.Model):
    """What the shopper filled in at checkout, kept with the cart (sealed)."""

    __tablename__ = "checkout_details"

    cart_id: Mapped[int] = mapped_column(
        ForeignKey("carts.id", ondelete="CASCADE"), primary_key=True
    )
    sealed: Mapped[bytes] = mapped_column(LargeBinary)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)


class PaymentAttempt(db.Model):
    """One press of "Place order": stock and coupon are held by it while the provider runs.

    ``open`` while the provider is being asked; then ``placed`` (an order exists), ``failed``
    (declined or provider error: what it held is back) or ``expired`` (left open by a crash and
    settled by the clean-up job).
    """

    __tablename__ = "payment_attempts"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    cart_id: Mapped[int] = mapped_column(ForeignKey("carts.id", ondelete="CASCADE"))
    key_hash: Mapped[bytes | None] = mapped_column(LargeBinary(16))
    request_hash: Mapped[bytes | None] = mapped_column(LargeBinary(16))
    status: Mapped[str] = mapped_column(String(16), default="open")
    provider: Mapped[str] = mapped_column(String(16))
    order_number: Mapped[int]
    cart_version: Mapped[int]
    # Lines, totals and contact as priced when the attempt began (sealed): the order is made
    # from exactly this.
    snapshot: Mapped[bytes] = mapped_column(LargeBinary)
    error_code: Mapped[str | None] = mapped_column(String(32))
    error_message: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    settle_by: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        UniqueConstraint("cart_id", "key_hash", name="uq_payment_attempts_key"),
        Index("ix_payment_attempts_open", "status", "settle_by"),
    )


class Counter(db.Model):
    """Named counters taken with one conditional UPDATE (order numbers)."""

    __tablename__ = "counters"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[int]
