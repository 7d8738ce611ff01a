"""``storefront analytics verify``: the events checked against the shop's other records.

Every cart change is in its cart's revision log (sealed) and every order in the orders table, so
what the events say can be recomputed from those, one by one:

- cart events: each revision still held is decrypted, replayed, and the events it must have
  made are derived (``cart_events``) and matched with the events recorded, exactly (time,
  kind, product, units, what the cart held after, device kind);
- orders placed (number, time, total), paid (number, time, total), their lines (sku, units);
- reminders sent (the outbox's sent messages) and recoveries (the reminders' orders).

What the shop no longer holds cannot be recomputed, and is counted apart, by reason: events
of carts since deleted (expired guest carts, deleted accounts) or from before their history's
retention, of orders no longer held. Checkouts started, the funnel and abandonment live in the
events alone (the shop keeps no other record of them) and are not part of the check.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import and_, func, or_, select

from storefront.analytics import cart_events, days
from storefront.analytics.events import shopper_hash
from storefront.analytics.kinds import DeviceKind, EventKind, device_kind
from storefront.analytics.models import CommerceEvent
from storefront.cart import models as cart_models
from storefront.cart import store
from storefront.cart.sealing import keyring
from storefront.cart.types import Owner, Source
from storefront.extensions import db
from storefront.mail.models import CartReminder, OutboxMessage
from storefront.orders.models import Order
from storefront.orders.services import order_aad

CART_KINDS = (
    EventKind.CART_CREATED,
    EventKind.LINE_ADDED,
    EventKind.QUANTITY_CHANGED,
    EventKind.LINE_REMOVED,
    EventKind.CART_EMPTIED,
    EventKind.RESTORED,
)
GONE_CART = "of carts deleted or expired since (no longer linked to their shopper)"
PAST_HISTORY = "from before their cart's history still held (retention)"
GONE_ORDER = "of orders no longer held"
GONE_ACCOUNT = "of reminders whose account was deleted"
SHOWN_PROBLEMS = 20
_E = CommerceEvent.__table__


@dataclass
class Part:
    """One kind of record checked: how many items were compared, how many agree."""

    name: str
    fields: tuple[str, ...]  # what each item's values are, to name them in a mismatch
    expected: Counter = field(default_factory=Counter)
    recorded: Counter = field(default_factory=Counter)
    not_recomputable: Counter = field(default_factory=Counter)  # reason -> events

    @property
    def matched(self) -> int:
        return sum((self.expected & self.recorded).values())

    @property
    def compared(self) -> int:
        return sum((self.expected | self.recorded).values())

    @property
    def missing(self) -> Counter:
        return self.expected - self.recorded

    @property
    def unexpected(self) -> Counter:
        return self.recorded - self.expected

    @property
    def ok(self) -> bool:
        return self.matched == self.compared


@dataclass
class Verification:
    start: date
    end: date
    zone: str
    parts: list[Part]

    @property
    def ok(self) -> bool:
        return all(part.ok for part in self.parts)

    def lines(self) -> list[str]:
        compared = sum(p.compared for p in self.parts)
        matched = sum(p.matched for p in self.parts)
        out = [f"analytics verify: {self.start} to {self.end} ({self.zone})"]
        for part in self.parts:
            out.append(f"  {part.name}: {part.matched} of {part.compared} match ({_percent(part)})")
            for reason, count in sorted(part.not_recomputable.items()):
                out.append(f"    not recomputable: {count} events {reason}")
            shown = 0
            for label, items in (("missing", part.missing), ("not expected", part.unexpected)):
                for item, count in sorted(items.items(), key=str):
                    if shown < SHOWN_PROBLEMS:
                        said = _describe(item, part.fields) + (f" (x{count})" if count > 1 else "")
                        out.append(f"    {label}: {said}")
                    shown += 1
            if shown > SHOWN_PROBLEMS:
                out.append(f"    ... and {shown - SHOWN_PROBLEMS} more")
        gone = sum(sum(p.not_recomputable.values()) for p in self.parts)
        out.append(
            "  checkouts started, the funnel and abandonment are recorded in the events alone: "
            "nothing else to recompute them from"
        )
        share = "100 %" if matched == compared else f"{100 * matched / compared:.2f} %"
        out.append(
            f"result: {share} of what can still be recomputed matches ({matched} of {compared}); "
            f"{gone} events could not be recomputed"
        )
        return out


def _percent(part: Part) -> str:
    if part.compared == 0 or part.ok:
        return "100 %"
    return f"{100 * part.matched / part.compared:.2f} %"


def _describe(item: tuple, fields: tuple[str, ...]) -> str:
    said = []
    for name, value in zip(fields, item, strict=True):
        if value is None:
            continue
        if name == "kind":
            said.append(EventKind(value).label)
        elif name == "device":
            said.append(f"device {DeviceKind(value).label}")
        elif isinstance(value, datetime):
            said.append(f"at {value.isoformat()}")
        else:
            said.append(f"{name} {value}")
    return ", ".join(said)


def run(start: date, end: date) -> Verification:
    zone_name = current_app.config["TIME_ZONE"]
    zone = ZoneInfo(zone_name)
    lo, hi = days.midnight(start, zone), days.midnight(end + timedelta(days=1), zone)
    parts = [_cart_changes(lo, hi), _orders(lo, hi), _reminders(lo, hi)]
    db.session.rollback()
    return Verification(start, end, zone_name, parts)


# --- cart changes --------------------------------------------------------------------------


def _cart_of_shopper() -> dict[bytes, tuple[int, datetime]]:
    """Each shopper hash -> (the cart it names now, from when its events can be checked)."""
    revisions = cart_models.CartRevision.__table__
    held = {
        cart_id: (first, first_at)
        for cart_id, first, first_at in db.session.execute(
            select(
                revisions.c.cart_id, func.min(revisions.c.version), func.min(revisions.c.at)
            ).group_by(revisions.c.cart_id)
        )
    }
    carts = cart_models.Cart.__table__
    found: dict[bytes, tuple[int, datetime]] = {}
    for cart_id, user_id, guest_key, created_at, version, updated_at in db.session.execute(
        select(
            carts.c.id,
            carts.c.user_id,
            carts.c.guest_key,
            carts.c.created_at,
            carts.c.version,
            carts.c.updated_at,
        )
    ):
        if user_id is None and guest_key is None:
            continue  # an expired guest cart: nothing names it any more
        first, first_at = held.get(cart_id, (None, None))
        if version == 0 or first == 1:
            since = created_at  # its whole history is held
        elif first is None:
            since = updated_at + timedelta(microseconds=1)  # all of it pruned
        else:
            since = first_at  # what came before was pruned
        found[shopper_hash(Owner(user_id, guest_key).channel)] = (cart_id, since)
    # A guest whose cart a registration adopted: the account's cart, under the guest's name.
    for shopper, peer in db.session.execute(
        select(_E.c.shopper, _E.c.peer).where(_E.c.kind == EventKind.MERGED, _E.c.peer.is_not(None))
    ):
        if peer not in found and shopper in found:
            found[peer] = found[shopper]
    return found


def _cart_changes(lo: datetime, hi: datetime) -> Part:
    part = Part(
        "cart changes (from the carts' revision logs)",
        ("cart", "kind", "sku", "units", "cart holds", "device", "at"),
    )
    revisions = cart_models.CartRevision.__table__
    carts = _cart_of_shopper()
    named = {cart_id for cart_id, _ in carts.values()}
    cart_ids = db.session.scalars(
        select(revisions.c.cart_id).where(revisions.c.at >= lo, revisions.c.at < hi).distinct()
    ).all()
    # An expired guest cart's log is still held a while, but nothing ties it to its events
    # any more: those are counted as not recomputable, below.
    for cart_id in (c for c in cart_ids if c in named):
        for change in store.logged_changes(cart_id, lo, hi):
            device = (
                DeviceKind.SUPPORT
                if change.source is Source.SUPPORT
                else device_kind(change.device)
            )
            for kind, sku, quantity in cart_events._rows(change.before, change.after, change.op):
                part.expected[
                    (
                        cart_id,
                        int(kind),
                        sku,
                        quantity,
                        change.after.item_count,
                        int(device),
                        change.at,
                    )
                ] += 1
    recorded = db.session.execute(
        select(
            _E.c.shopper,
            _E.c.kind,
            _E.c.sku,
            _E.c.quantity,
            _E.c.cart_units,
            _E.c.device,
            _E.c.at,
        ).where(_E.c.kind.in_(CART_KINDS), _E.c.at >= lo, _E.c.at < hi)
    )
    for shopper, kind, sku, quantity, units, device, at in recorded:
        cart = carts.get(shopper)
        if cart is None:
            part.not_recomputable[GONE_CART] += 1
        elif at < cart[1]:
            part.not_recomputable[PAST_HISTORY] += 1
        else:
            part.recorded[(cart[0], kind, sku, quantity, units, device, at)] += 1
    return part


# --- orders --------------------------------------------------------------------------------


def _orders(lo: datetime, hi: datetime) -> Part:
    part = Part(
        "orders placed, paid and their lines (from the orders held)",
        ("order", "kind", "at", "total", "sku", "units"),
    )
    in_range = lambda column: and_(column >= lo, column < hi)  # noqa: E731
    held = db.session.execute(
        select(Order.number, Order.placed_at, Order.paid_at, Order.total, Order.sealed).where(
            or_(in_range(Order.placed_at), in_range(Order.paid_at))
        )
    ).all()
    ring = keyring()
    for number, placed_at, paid_at, total, sealed in held:
        if lo <= placed_at < hi:
            part.expected[(number, int(EventKind.ORDER_PLACED), placed_at, total, None, None)] += 1
            for line in json.loads(ring.open(sealed, order_aad(number)))["lines"]:
                part.expected[
                    (number, int(EventKind.LINE_ORDERED), None, None, line["sku"], line["quantity"])
                ] += 1
        if paid_at is not None and lo <= paid_at < hi:
            part.expected[(number, int(EventKind.ORDER_PAID), paid_at, total, None, None)] += 1
    kinds = (EventKind.ORDER_PLACED, EventKind.ORDER_PAID, EventKind.LINE_ORDERED)
    recorded = db.session.execute(
        select(
            _E.c.order_number, _E.c.kind, _E.c.at, _E.c.amount_cents, _E.c.sku, _E.c.quantity
        ).where(_E.c.kind.in_(kinds), in_range(_E.c.at))
    ).all()
    numbers = {number for number, *_ in recorded}
    still_held = (
        set(db.session.scalars(select(Order.number).where(Order.number.in_(numbers))))
        if numbers
        else set()
    )
    for number, kind, at, amount, sku, quantity in recorded:
        if number not in still_held:
            part.not_recomputable[GONE_ORDER] += 1
        elif kind == EventKind.LINE_ORDERED:
            part.recorded[(number, kind, None, None, sku, quantity)] += 1
        else:
            part.recorded[(number, kind, at, amount, None, None)] += 1
    return part


# --- reminders -----------------------------------------------------------------------------


def _reminders(lo: datetime, hi: datetime) -> Part:
    part = Part(
        "reminders sent and carts recovered (from the outbox and the reminders)",
        ("order", "kind", "at"),
    )
    sent = db.session.scalars(
        select(OutboxMessage.sent_at).where(
            OutboxMessage.kind == "cart_reminder",
            OutboxMessage.status == "sent",
            OutboxMessage.sent_at >= lo,
            OutboxMessage.sent_at < hi,
        )
    )
    for at in sent:
        part.expected[(None, int(EventKind.REMINDER_SENT), at)] += 1
    recovered = db.session.execute(
        select(Order.number, Order.placed_at)
        .join(CartReminder, CartReminder.order_number == Order.number)
        .where(Order.placed_at >= lo, Order.placed_at < hi)
    )
    for number, at in recovered:
        part.expected[(number, int(EventKind.CART_RECOVERED), at)] += 1
    recorded = db.session.execute(
        select(_E.c.order_number, _E.c.kind, _E.c.at).where(
            _E.c.kind.in_((EventKind.REMINDER_SENT, EventKind.CART_RECOVERED)),
            _E.c.at >= lo,
            _E.c.at < hi,
        )
    ).all()
    remembered = set(
        db.session.scalars(
            select(CartReminder.order_number).where(CartReminder.order_number.is_not(None))
        )
    )
    for number, kind, at in recorded:
        if kind == EventKind.CART_RECOVERED and number not in remembered:
            # The reminder went with its account (deleted); the order alone cannot tell.
            part.not_recomputable[GONE_ACCOUNT] += 1
        else:
            part.recorded[(number, kind, at)] += 1
    return part
