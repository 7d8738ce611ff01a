"""Cart reminders: one email to a signed-in shopper who allowed it, when their cart has been
left (no change and no visit) for STOREFRONT_ABANDONED_CART_MINUTES with no order since; at
most one per idle period, checked again just before it is sent. Its link shows that exact cart
version with what changed since, and brings it back as a new revision."""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import exists, func, select
from sqlalchemy.exc import IntegrityError

from storefront import clock
from storefront.accounts.models import AuthSession, User
from storefront.analytics import events
from storefront.analytics.kinds import DeviceKind, EventKind
from storefront.cart import models as cart_models
from storefront.cart import store
from storefront.cart.types import CartStatus, Owner
from storefront.catalog.services import ProductFacts, facts_for
from storefront.database import write
from storefront.errors import DomainError, NotFound
from storefront.extensions import db
from storefront.mail import outbox
from storefront.mail.models import CartReminder
from storefront.orders.models import Order

KIND = "cart_reminder"
# A cart left longer than this before the shopper allowed reminders gets none: a reminder is
# about a cart they just left, not one from last season.
LOOK_BACK = timedelta(days=7)
BATCH = 100


class ReminderRefused(DomainError):
    code = "not_found"


def _signer(purpose: str) -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=f"mail-{purpose}")


def reminder_token(reminder: CartReminder) -> str:
    return _signer("reminder").dumps(reminder.id)


def unsubscribe_token(user_id: int) -> str:
    return _signer("unsubscribe").dumps(user_id)


def _load(purpose: str, token: str) -> int:
    try:
        value = _signer(purpose).loads(token[:300])
    except BadSignature:
        raise ReminderRefused("This link is not valid.") from None
    if not isinstance(value, int) or isinstance(value, bool):
        raise ReminderRefused("This link is not valid.")
    return value


def _last_seen(user_id: int):
    return select(func.max(AuthSession.last_seen_at)).where(AuthSession.user_id == user_id)


def due_carts(now) -> list[tuple[int, int, int]]:
    """(cart id, version, user id) of carts left idle long enough, not yet reminded at that
    version, with no order since and no visit by their shopper since they went idle."""
    idle_since = now - current_app.config["ABANDONED_CART_AFTER"]
    carts = cart_models.Cart
    seen_since = exists().where(
        AuthSession.user_id == carts.user_id, AuthSession.last_seen_at > idle_since
    )
    ordered_since = exists().where(
        Order.user_id == carts.user_id, Order.placed_at >= carts.updated_at
    )
    reminded = exists().where(
        CartReminder.cart_id == carts.id, CartReminder.version == carts.version
    )
    rows = db.session.execute(
        select(carts.id, carts.version, carts.user_id)
        .join(User, User.id == carts.user_id)
        .where(
            User.cart_reminders.is_(True),
            carts.status == CartStatus.OPEN,
            carts.version > 0,
            carts.updated_at <= idle_since,
            carts.updated_at >= idle_since - LOOK_BACK,
            ~seen_since,
            ~ordered_since,
            ~reminded,
        )
        .order_by(carts.updated_at, carts.id)
        .limit(BATCH)
    )
    return [tuple(row) for row in rows]


def send_reminders() -> int:
    """Queue a reminder for each cart due; returns how many."""
    due = due_carts(clock.now())
    db.session.rollback()
    queued = 0
    for cart in due:
        # Another process may remind of this cart version first: once is enough.
        with contextlib.suppress(IntegrityError):
            queued += bool(write(lambda c=cart: _remind(*c)))
    return queued


def _remind(cart_id: int, version: int, user_id: int) -> bool:
    user = db.session.get(User, user_id)
    snapshot = store.read(Owner.user(user_id))
    if user is None or snapshot.cart_id != cart_id or snapshot.version != version:
        return False  # changed since it was found: a new idle period
    lines = snapshot.cart.lines
    facts = facts_for(line.sku for line in lines)
    reminder = CartReminder(
        user_id=user_id,
        cart_id=cart_id,
        version=version,
        prices=json.dumps({sku: f.price_cents for sku, f in facts.items()}),
        created_at=clock.now(),
    )
    if not any(line.sku in facts for line in lines):
        # Nothing in it (or nothing left of it) to remind of. Marked as done for this version,
        # so the job does not look at it again every round.
        reminder.skipped = True
        db.session.add(reminder)
        return False
    db.session.add(reminder)
    db.session.flush()
    # Built by hand: the job runs outside any request, where url_for has no host to use.
    base = current_app.config["PUBLIC_URL"]
    link = f"{base}/cart/reminder/{reminder_token(reminder)}"
    unsubscribe = f"{base}/email/unsubscribe/{unsubscribe_token(user_id)}"
    rows = [(line, facts[line.sku]) for line in lines if line.sku in facts]
    outbox.queue_email(
        KIND,
        f"cart-reminder:{cart_id}:{version}",
        user.email,
        "you left something in your cart",
        {"rows": rows, "link": link, "unsubscribe": unsubscribe},
        headers={
            # RFC 8058: mail clients offer a one-click unsubscribe that POSTs to this address.
            "List-Unsubscribe": f"<{unsubscribe}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        },
    )
    return True


def still_wanted(dedupe_key: str) -> bool:
    """Just before sending: not if the shopper changed the cart, came back, ordered or opted
    out since it was queued."""
    _, cart_id, version = dedupe_key.split(":")
    reminder = db.session.scalar(
        select(CartReminder).where(
            CartReminder.cart_id == int(cart_id), CartReminder.version == int(version)
        )
    )
    if reminder is None or reminder.skipped:
        return False
    user = db.session.get(User, reminder.user_id)
    cart = db.session.get(cart_models.Cart, reminder.cart_id)
    if user is None or not user.cart_reminders or cart is None or cart.version != reminder.version:
        return False
    last_seen = db.session.scalar(_last_seen(user.id))
    if last_seen is not None and last_seen > reminder.created_at:
        return False
    ordered = db.session.scalar(
        select(Order.id).where(Order.user_id == user.id, Order.placed_at >= cart.updated_at)
    )
    return ordered is None


def sent(dedupe_key: str, at: datetime) -> None:
    """Inside the transaction recording the reminder as sent: the analytics count it."""
    _, cart_id, version = dedupe_key.split(":")
    user_id = db.session.scalar(
        select(CartReminder.user_id).where(
            CartReminder.cart_id == int(cart_id), CartReminder.version == int(version)
        )
    )
    if user_id is not None:
        events.record(
            EventKind.REMINDER_SENT, Owner.user(user_id).channel, device=DeviceKind.SERVER, at=at
        )


outbox.register_check(KIND, still_wanted)
outbox.register_on_sent(KIND, sent)


# --- the link ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReminderLine:
    name: str
    sku: str
    quantity: int
    options: dict
    price_then: int | None
    now: ProductFacts | None

    @property
    def changes(self) -> list[str]:
        """What changed since the reminder, in words."""
        now = self.now
        if now is None or not now.active:
            return ["no longer available"]
        said = []
        if self.price_then is not None and now.price_cents != self.price_then:
            said.append("price")
        if now.stock <= 0:
            said.append("out of stock")
        elif now.stock < self.quantity:
            said.append(f"only {now.stock} left")
        return said


@dataclass(frozen=True)
class ReminderView:
    reminder: CartReminder
    lines: list[ReminderLine]
    restorable: bool


def reminder_for(token: str, user_id: int) -> CartReminder:
    reminder = db.session.get(CartReminder, _load("reminder", token))
    if reminder is None or reminder.skipped:
        raise ReminderRefused("This reminder no longer exists.")
    if reminder.user_id != user_id:
        # Said plainly, without what the other account's cart holds.
        raise ReminderRefused(
            "This reminder was sent to another account. Sign in with that account to see it."
        )
    return reminder


def view(token: str, user_id: int) -> ReminderView:
    from storefront.cart import history

    reminder = reminder_for(token, user_id)
    restorable = history.restorable(reminder.cart_id, reminder.version)
    if not restorable:
        return ReminderView(reminder, [], False)
    then = store.state_at(reminder.cart_id, reminder.version)
    prices = json.loads(reminder.prices)
    facts = facts_for(line.sku for line in then.lines)
    lines = [
        ReminderLine(
            name=facts[line.sku].name if line.sku in facts else line.sku,
            sku=line.sku,
            quantity=line.quantity,
            options=dict(line.options),
            price_then=prices.get(line.sku),
            now=facts.get(line.sku),
        )
        for line in then.lines
    ]
    return ReminderView(reminder, lines, True)


def mark_recovered(reminder_id: int) -> None:
    """Inside the restore's transaction."""
    reminder = db.session.get(CartReminder, reminder_id)
    if reminder is not None and reminder.recovered_at is None:
        reminder.recovered_at = clock.now()


def order_followed(user_id: int, number: int, at: datetime) -> None:
    """Inside the transaction that places an order: the reminder the shopper last brought a
    cart back through, not yet followed by an order, is now a recovery."""
    reminder = db.session.scalar(
        select(CartReminder)
        .where(
            CartReminder.user_id == user_id,
            CartReminder.recovered_at >= clock.now() - LOOK_BACK,
            CartReminder.order_number.is_(None),
        )
        .order_by(CartReminder.recovered_at.desc())
        .limit(1)
    )
    if reminder is not None:
        reminder.order_number = number
        events.record(
            EventKind.CART_RECOVERED, Owner.user(user_id).channel, order_number=number, at=at
        )


def unsubscribe(token: str) -> User:
    user = db.session.get(User, _load("unsubscribe", token))
    if user is None:
        raise NotFound("This address no longer has an account here.")
    user.cart_reminders = False
    db.session.commit()
    return user
