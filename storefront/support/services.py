"""Support: find a shopper, see their cart's timeline, restore a revision for them. Every
action is written to the audit log in the same transaction as what it did, or not at all."""

from __future__ import annotations

from sqlalchemy import select

from storefront import clock, devices
from storefront.accounts.models import User
from storefront.accounts.services import normalise_email
from storefront.cart import services as cart_services
from storefront.cart import store
from storefront.cart.store import Owner
from storefront.errors import NotFound
from storefront.extensions import db
from storefront.support.models import SupportAction


def find_shopper(email: object) -> User | None:
    return db.session.scalar(select(User).where(User.email == normalise_email(email)))


def shopper(user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound("There is no such shopper.")
    return user


def _log(agent: User, customer: User, action: str, detail: str) -> None:
    db.session.add(
        SupportAction(
            at=clock.now(),
            support_user_id=agent.id,
            shopper_user_id=customer.id,
            support_email=agent.email,
            shopper_email=customer.email,
            action=action,
            detail=detail[:500],
        )
    )
    db.session.commit()


def timeline(agent: User, customer: User) -> list[cart_services.HistoryEntry]:
    _log(agent, customer, "view_history", "viewed the cart's timeline")
    return cart_services.history(Owner.user(customer.id), limit=200)


def restore(agent: User, customer: User, revision: int) -> cart_services.RestoreResult:
    request = cart_services.Request(owner=Owner.user(customer.id), device=devices.SUPPORT)
    result = cart_services.restore(request, revision, source=store.SUPPORT)
    left_out = ", ".join(f"{e['sku']} ({e['reason']})" for e in result.unrestored)
    _log(
        agent,
        customer,
        "restore",
        f"restored revision {revision} as revision {result.change.version}"
        + (f"; not restored: {left_out}" if left_out else ""),
    )
    return result


def recent_actions(limit: int = 50) -> list[SupportAction]:
    return list(
        db.session.scalars(select(SupportAction).order_by(SupportAction.id.desc()).limit(limit))
    )
