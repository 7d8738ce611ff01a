"""The emails an order's life sends: to the shopper at each step, and a note to the owner of
each new order. Called inside the transaction that changes the order, so the email exists
exactly when the change does."""

from __future__ import annotations

from flask import current_app

from storefront.mail import outbox
from storefront.orders import placed_here
from storefront.orders import services as orders
from storefront.orders.models import Order

SUBJECTS = {
    "placed": "order {number} received",
    "placed_paid": "order {number} is paid, thank you",
    "paid": "payment received for order {number}",
    "fulfilled": "order {number} is on its way",
    "cancelled": "order {number} is cancelled",
    "refunded": "a refund for order {number}",
}


def order_changed(order: Order, step: str, *, key_suffix: str = "", **extra: object) -> None:
    """Queue the shopper's email for ``step`` (placed, paid, fulfilled, cancelled, refunded),
    once per order and step (``key_suffix`` tells apart repeated steps, such as partial
    refunds). An order paid at placement gets one email that says so."""
    details = orders.view(order)
    config = current_app.config
    subject_key = "placed_paid" if step == "placed" and order.status == "paid" else step
    context = {
        "view": details,
        "order": order,
        "step": step,
        "link": placed_here.signed_url(order),
        "manual_instructions": config["MANUAL_PAYMENT_INSTRUCTIONS"],
        **extra,
    }
    subject = SUBJECTS[subject_key].format(number=order.number)
    key = f"order-{step}:{order.number}{key_suffix}"
    outbox.queue_email("order", key, details.email, subject, context)
    owner = config["OWNER_EMAIL"]
    if step == "placed" and owner:
        outbox.queue_email(
            "owner_new_order",
            f"owner-order:{order.number}",
            owner,
            f"new order {order.number}",
            context,
        )
