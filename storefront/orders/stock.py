"""Taking and giving back stock, one conditional UPDATE per product, each written to the ledger.

Rows are updated in product-id order, so two checkouts that share products lock them in the
same order and cannot deadlock. ``products.stock >= 0`` is also a CHECK constraint: stock
cannot go below zero whatever a caller does.
"""

from __future__ import annotations

from collections.abc import Mapping

from flask import current_app
from sqlalchemy import func, select, update

from storefront import clock
from storefront.catalog.models import Product
from storefront.extensions import db
from storefront.mail import stock as stock_mail
from storefront.orders.models import StockMovement


def take(units: Mapping[int, int], attempt_id: str) -> list[int]:
    """Inside a transaction: take ``units`` (product id → quantity) or report which products
    fall short (their ids); the caller rolls back when any does."""
    short = []
    for product_id in sorted(units):
        wanted = units[product_id]
        taken = db.session.execute(
            update(Product)
            .where(Product.id == product_id, Product.active, Product.stock >= wanted)
            .values(stock=Product.stock - wanted)
        ).rowcount
        if taken:
            _record(product_id, -wanted, "order", attempt_id)
        else:
            short.append(product_id)
    if not short:
        _tell_if_running_low(units, attempt_id)
    return short


def _tell_if_running_low(units: Mapping[int, int], attempt_id: str) -> None:
    low = current_app.config["LOW_STOCK"]
    crossed = [
        (sku, name, left)
        for sku, name, left, product_id in db.session.execute(
            select(Product.sku, Product.name, Product.stock, Product.id).where(
                Product.id.in_(units), Product.stock <= low
            )
        )
        if left + units[product_id] > low  # this order took it there
    ]
    stock_mail.running_low(crossed, attempt_id)


def give_back(units: Mapping[int, int], reason: str, attempt_id: str | None) -> None:
    for product_id in sorted(units):
        db.session.execute(
            update(Product)
            .where(Product.id == product_id)
            .values(stock=Product.stock + units[product_id])
        )
        _record(product_id, units[product_id], reason, attempt_id)


def adjust(product_id: int, delta: int, reason: str) -> None:
    """A change of stock from outside an order (import, restock, staff), in the ledger too."""
    if delta:
        _record(product_id, delta, reason, None)


def _record(product_id: int, delta: int, reason: str, attempt_id: str | None) -> None:
    db.session.add(
        StockMovement(
            product_id=product_id,
            delta=delta,
            reason=reason,
            attempt_id=attempt_id,
            at=clock.now(),
        )
    )


def mismatches() -> list[tuple[str, int, int]]:
    """Products whose stock differs from the sum of their ledger: (sku, stock, ledger)."""
    ledger = (
        select(StockMovement.product_id, func.sum(StockMovement.delta).label("total"))
        .group_by(StockMovement.product_id)
        .subquery()
    )
    rows = db.session.execute(
        select(Product.sku, Product.stock, func.coalesce(ledger.c.total, 0))
        .outerjoin(ledger, ledger.c.product_id == Product.id)
        .where(Product.stock != func.coalesce(ledger.c.total, 0))
        .order_by(Product.sku)
    )
    return [tuple(r) for r in rows]
