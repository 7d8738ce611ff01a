"""The checkout and orders as the JSON API shows them (amounts as decimal text)."""

from __future__ import annotations

from dataclasses import asdict

from storefront.checkout.quoting import Checkout
from storefront.money import to_decimal_text
from storefront.orders.services import OrderView


def _amounts(currency: str, **amounts: int) -> dict[str, str]:
    return {name: to_decimal_text(value, currency) for name, value in amounts.items()}


def checkout_json(checkout: Checkout) -> dict:
    q, currency = checkout.quote, checkout.currency
    return {
        "cart_version": checkout.cart_version,
        "currency": currency,
        "email": checkout.details.email,
        "address": asdict(checkout.details.address),
        "phone": checkout.details.phone,
        "shipping_method": checkout.method.id if checkout.method else None,
        "shipping_methods": [
            {
                "id": m.id,
                "name": m.name,
                "price": to_decimal_text(m.price, currency),
                "free_from": None
                if m.free_from is None
                else to_decimal_text(m.free_from, currency),
                "needs_address": m.needs_address,
            }
            for m in checkout.methods
        ],
        "coupon": checkout.coupon.code if checkout.coupon else None,
        "lines": [
            {
                "sku": line.sku,
                "name": line.name,
                "options": dict(line.options),
                "quantity": line.quantity,
                "unit_price": to_decimal_text(line.unit_price, currency),
                "line_total": to_decimal_text(line.line_total, currency),
            }
            for line in checkout.lines
        ],
        **q.as_json(),
        "problems": [p.as_json() for p in checkout.problems],
    }


def order_json(view: OrderView) -> dict:
    order, currency = view.order, view.order.currency
    body = {
        "number": str(order.number),
        "status": order.status,
        "email": view.email,
        "currency": currency,
        "lines": [
            {
                "sku": line.sku,
                "name": line.name,
                "options": line.options,
                "quantity": line.quantity,
                "unit_price": to_decimal_text(line.unit_price, currency),
                "line_total": to_decimal_text(line.line_total, currency),
            }
            for line in view.lines
        ],
        **_amounts(
            currency,
            subtotal=order.subtotal,
            discount=order.discount,
            shipping=order.shipping,
            tax=order.tax,
            total=order.total,
        ),
        "shipping_method": order.shipping_method,
        "coupon": order.coupon_code,
        "address": view.address,
        "payment": {"provider": order.provider, "status": order.payment_status},
        "placed_at": order.placed_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    if order.tax_included:
        body["tax_included"] = to_decimal_text(order.tax_included, currency)
    if order.tracking:
        body["tracking"] = order.tracking
    if order.refunded:
        body["refunded"] = to_decimal_text(order.refunded, currency)
    if order.status == "pending" and order.hold_until is not None:
        body["held_until"] = order.hold_until.strftime("%Y-%m-%dT%H:%M:%SZ")
    return body
