"""The owner's note when orders take products down to the low-stock mark."""

from __future__ import annotations

from collections.abc import Sequence

from flask import current_app

from storefront.mail import outbox
from storefront.mail.compose import compose


def running_low(products: Sequence[tuple[str, str, int]], cause: str) -> None:
    """Inside the transaction that took the stock: (sku, name, stock left) of each product that
    just reached STOREFRONT_LOW_STOCK or below. Nothing when no owner address is set."""
    owner = current_app.config["OWNER_EMAIL"]
    if not owner or not products:
        return
    count = len(products)
    subject = f"{count} product{'s' if count != 1 else ''} running low"
    message = compose("low_stock", owner, subject, {"products": products})
    outbox.enqueue("low_stock", f"low-stock:{cause}", message)
