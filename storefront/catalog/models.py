from __future__ import annotations

from decimal import Decimal
from functools import cached_property

from sqlalchemy import CheckConstraint, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from storefront.catalog.options import OptionSpec, specs_from_json
from storefront.extensions import db


class Product(db.Model):
    __tablename__ = "products"

    id: Mapped[int] = mapped_column(primary_key=True)
    sku: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    price_cents: Mapped[int]
    stock: Mapped[int]
    active: Mapped[bool] = mapped_column(default=True)
    options_json: Mapped[str] = mapped_column(Text, default="[]")
    # What search engines and shared links show (staff edit it; empty: the description's start).
    meta_description: Mapped[str] = mapped_column(String(300), default="")

    # Whatever the code does, stock never goes below zero: an order that would take more than
    # is left fails here rather than oversell.
    __table_args__ = (CheckConstraint("stock >= 0", name="ck_products_stock"),)

    @property
    def price(self) -> Decimal:
        return Decimal(self.price_cents).scaleb(-2)

    @property
    def available(self) -> bool:
        return self.active and self.stock > 0

    @cached_property
    def option_specs(self) -> tuple[OptionSpec, ...]:
        return specs_from_json(self.options_json)
