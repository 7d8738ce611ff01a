"""An order's timeline: what happened to it, when and by whom. Staff steps are order_events
rows; the steps the shop took by itself (placed, paid at checkout or by the provider's webhook,
cancelled when its hold ran out) are read from the order's own columns, so orders placed before
the events table existed have a timeline too."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from storefront.extensions import db
from storefront.orders.models import Order, OrderEvent


@dataclass(frozen=True)
class Step:
    at: datetime
    kind: str  # placed, paid, fulfilled, cancelled, refunded
    who: str
    amount: int | None = None
    note: str | None = None


def events(order: Order) -> list[OrderEvent]:
    return list(
        db.session.scalars(
            select(OrderEvent)
            .where(OrderEvent.order_id == order.id)
            .order_by(OrderEvent.at, OrderEvent.id)
        )
    )


def steps(order: Order) -> list[Step]:
    """Oldest first."""
    recorded = [Step(e.at, e.kind, e.actor, e.amount, e.note) for e in events(order)]
    kinds = {step.kind for step in recorded}
    implied = [Step(order.placed_at, "placed", "the shopper (checkout)")]
    if order.paid_at is not None and "paid" not in kinds:
        implied.append(Step(order.paid_at, "paid", f"the {order.provider} payment provider"))
    if order.status == "cancelled" and "cancelled" not in kinds and order.closed_at is not None:
        implied.append(Step(order.closed_at, "cancelled", "the shop (not paid, or given up)"))
    return sorted(implied + recorded, key=lambda step: step.at)
