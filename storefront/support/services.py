"""Support: find a shopper, see their cart's timeline, restore a revision for them. Every
action is written to the audit log in the same transaction as what it did, or not at all."""

from __future__ import annotations

from sqlalchemy import select

from storefront import clock, devices
from storefront.accounts.models import User
from storefront.accounts.services import normalise_email
from storefront.cart import history
from storefront.cart import services as cart_services
from storefront.cart.types import Owner, Source
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


def _record(agent: User, customer: User, action: str, detail: str) -> None:
    """Adds the audit row to the caller's transaction."""
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


def timeline(agent: User, customer: User) -> list[history.HistoryEntry]:
    _record(agent, customer, "view_history", "viewed the cart's timeline")
    db.session.commit()
    return history.timeline(Owner.user(customer.id), limit=200)


def restore(agent: User, customer: User, revision: int) -> cart_services.RestoreResult:
    """The restore and its audit row commit together, or neither does."""

    def audit(result: cart_services.RestoreResult) -> None:
        left_out = ", ".join(f"{s.sku} ({s.reason})" for s in result.unrestored)
        _record(
            agent,
            customer,
            "restore",
            f"restored revision {revision} as revision {result.change.version}"
            + (f"; not restored: {left_out}" if left_out else ""),
        )

    request = cart_services.Request(owner=Owner.user(customer.id), device=devices.SUPPORT)
    return cart_services.restore(request, revision, source=Source.SUPPORT, also=audit)


def recent_actions(limit: int = 50) -> list[SupportAction]:
    return list(
        db.session.scalars(select(SupportAction).order_by(SupportAction.id.desc()).limit(limit))
    )
