"""A product's shopper-visible facts before and after a staff change, and telling the open pages.

Whatever changes a product (the back office's forms and JSON, a CSV import, a stock adjustment)
takes a ``snapshot`` before, commits, then calls ``announce(before, snapshot(product))``.
"""

from __future__ import annotations

from dataclasses import dataclass

from storefront.catalog.models import Product


@dataclass(frozen=True)
class ProductFacts:
    sku: str
    name: str
    price_cents: int
    stock: int
    active: bool


def snapshot(product: Product) -> ProductFacts:
    return ProductFacts(
        sku=product.sku,
        name=product.name,
        price_cents=product.price_cents,
        stock=product.stock,
        active=product.active,
    )


def announce(before: ProductFacts | None, after: ProductFacts) -> None:
    """Push the change to every open page that shows the product or a cart line of it.

    Called after the change is committed. (Delivery is built by the live-catalog work.)"""
