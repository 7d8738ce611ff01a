"""A shopper's own data, to take away."""

from __future__ import annotations

from storefront import devices
from storefront.accounts import services
from storefront.accounts.models import User
from storefront.api.serialize import cart_json, history_json, saved_json
from storefront.cart import history, views
from storefront.cart.types import Owner
from storefront.saved import services as saved


def export(user: User) -> dict:
    owner = Owner.user(user.id)
    revisions, before = [], None
    while page := history.timeline(owner, before=before, limit=200):
        revisions.extend(history_json(entry) for entry in page)
        before = page[-1].revision
    return {
        "account": {
            "email": user.email,
            "created_at": user.created_at.isoformat(),
            "support_role": user.is_support,
            "cart_reminders": user.cart_reminders,
        },
        "signed_in_devices": [
            {
                "device": devices.label(s.device),
                "signed_in_at": s.created_at.isoformat(),
                "last_seen_at": s.last_seen_at.isoformat(),
            }
            for s in services.sessions_of(user)
        ],
        "cart": cart_json(views.view(owner)),
        "cart_history": revisions,
        "saved_for_later": [saved_json(item) for item in saved.saved_list(owner)],
    }
