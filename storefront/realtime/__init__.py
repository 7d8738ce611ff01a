"""Live cart: every change reaches the shopper's other open pages over /ws.

Routes call ``publish_change`` after the commit (never before); it renders the fragment once,
publishes it on the shopper's channel and returns it for the sender's own response.
"""

from __future__ import annotations

import re
import secrets

from flask import Flask, current_app, g, request

from storefront.cart.store import Change, Owner
from storefront.realtime import events
from storefront.realtime.broker import InProcessBroker, RedisBroker
from storefront.realtime.registry import RECONNECT, Close, Registry

PAGE_ID = re.compile(r"^[A-Za-z0-9_-]{1,32}$")


def init_app(app: Flask) -> None:
    registry = Registry()
    url = app.config["REDIS_URL"]
    broker = (
        RedisBroker(registry, url, app.config["REDIS_PREFIX"]) if url else InProcessBroker(registry)
    )
    app.extensions["storefront.realtime"] = (registry, broker)
    app.add_template_global(page_id, "page_id")


def registry() -> Registry:
    return current_app.extensions["storefront.realtime"][0]


def broker() -> InProcessBroker | RedisBroker:
    return current_app.extensions["storefront.realtime"][1]


def page_id() -> str:
    """This page's id: its requests carry it, and events name it, so a page can tell its own."""
    if "page_id" not in g:
        g.page_id = secrets.token_urlsafe(9)
    return g.page_id


def requesting_page() -> str:
    value = request.headers.get("X-Page-Id", "")
    return value if PAGE_ID.match(value) else ""


def channel_for(owner: Owner) -> str:
    if owner.user_id is not None:
        return f"user:{owner.user_id}"
    return f"guest:{owner.guest_key.hex()}"


def publish_change(owner: Owner, change: Change, view, *, notice: str, seen: int | None) -> str:
    """Publish a committed change; return the state fragment for the sender's own response."""
    origin = requesting_page()
    fragment = events.state_fragment(change, view, origin=origin, seen=seen)
    if not change.replayed:
        message = events.notice_for_others(notice, origin) + fragment if notice else fragment
        broker().publish(channel_for(owner), {"html": message})
    return fragment


def publish_resync(owner: Owner, notice: str = "") -> None:
    message = events.notice_for_others(notice, "") if notice else ""
    broker().publish(channel_for(owner), {"html": message + events.RESYNC})


def close_sockets(owner: Owner, *, session: str | None = None, reason: str = "session") -> None:
    """Close the owner's sockets (one device session's, or all); pages reconnect as who they
    are now, so nothing more is pushed to them under the old identity."""
    broker().publish(channel_for(owner), {"close": reason, "session": session, "code": RECONNECT})


def close_all(app: Flask, reason: str = "server restarting") -> None:
    """Shutdown: every socket closes with 1012, and its page reconnects (to another instance
    behind the load balancer, or to this one when it is back). No reload needed."""
    registry_, _ = app.extensions["storefront.realtime"]
    registry_.broadcast(Close(RECONNECT, reason))
