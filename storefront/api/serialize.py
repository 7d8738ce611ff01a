"""The JSON shapes of the API."""

from __future__ import annotations

from decimal import Decimal

from storefront.cart.history import HistoryEntry
from storefront.cart.state import Shortfall
from storefront.cart.views import CartView, LineView


def money(amount: Decimal) -> str:
    return str(amount.quantize(Decimal("0.01")))


def line_json(line: LineView) -> dict:
    return {
        "id": line.id,
        "sku": line.sku,
        "name": line.name,
        "quantity": line.quantity,
        "unit_price": money(line.unit_price),
        "options": line.options,
        "line_total": money(line.line_total),
        "available": line.available,
    }


def cart_json(cart: CartView) -> dict:
    return {
        "version": cart.version,
        "currency": cart.currency,
        "item_count": cart.item_count,
        "subtotal": money(cart.subtotal),
        "lines": [line_json(line) for line in cart.lines],
    }


def minimal_json(cart: CartView) -> dict:
    return {
        "version": cart.version,
        "item_count": cart.item_count,
        "subtotal": money(cart.subtotal),
    }


def history_json(entry: HistoryEntry) -> dict:
    return {
        "revision": entry.revision,
        "at": entry.at.isoformat(),
        "summary": entry.summary,
        "source": entry.source,
        "device": entry.device,
    }


def shortfall_json(short: Shortfall) -> dict:
    return {
        "sku": short.sku,
        "reason": short.reason.value,
        "requested": short.requested,
        "kept": short.kept,
    }
