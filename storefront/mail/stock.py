"""The owner's note when orders take products down to the low-stock mark."""

from __future__ import annotations

from collections.abc import Sequence

from flask import current_app

from storefront.mail import outbox


def running_low(products: Sequence[tuple[str, str, int]], cause: str) -> None:
    """Inside the transaction that took the stock: (sku, name, stock left) of each product that
    just reached STOREFRONT_LOW_STOCK or below. Nothing when no owner address is set."""
    owner = current_app.config["OWNER_EMAIL"]
    if not owner or not products:
        return
    count = len(products)
    subject = f"{count} product{'s' if count != 1 else ''} running low"
    outbox.queue_email("low_stock", f"low-stock:{cause}", owner, subject, {"products": products})
