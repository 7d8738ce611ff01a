"""Live pages: HTML published on a channel reaches every open page listening on it, over /ws,
whichever process serves it.

A plain transport: channels, sockets and brokers, nothing of carts or accounts. Who a socket
listens as is decided by the ``listener`` the app hands to ``init_app``; what is published is
decided by whoever publishes (the cart announces its own changes).
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from flask import Flask, current_app, g, request

from storefront.realtime.broker import RedisBroker
from storefront.realtime.registry import RECONNECT, Close, Listener, Registry
from storefront.realtime.siblings import SiblingsBroker

PAGE_ID = re.compile(r"^[A-Za-z0-9_-]{1,32}$")


@dataclass(frozen=True)
class Realtime:
    registry: Registry
    broker: SiblingsBroker | RedisBroker
    listener: Callable[[], Listener]


def init_app(app: Flask, *, listener: Callable[[], Listener]) -> None:
    registry_ = Registry()
    url = app.config["REDIS_URL"]
    broker_ = (
        RedisBroker(registry_, url, app.config["REDIS_PREFIX"])
        if url
        else SiblingsBroker(registry_, _siblings_folder(app))
    )
    app.extensions["storefront.realtime"] = Realtime(registry_, broker_, listener)
    app.add_template_global(page_id, "page_id")


def _siblings_folder(app: Flask) -> Path:
    """Without Redis, this machine's workers reach each other through a folder of the instance,
    one per database: two shops run from one checkout never hear each other's shoppers."""
    shop = hashlib.sha256(app.config["SQLALCHEMY_DATABASE_URI"].encode()).hexdigest()[:16]
    return Path(app.instance_path) / "live" / shop


def _realtime(app: Flask | None = None) -> Realtime:
    return (app or current_app).extensions["storefront.realtime"]


def registry() -> Registry:
    return _realtime().registry


def broker() -> SiblingsBroker | RedisBroker:
    return _realtime().broker


def listener() -> Listener:
    """Who the socket being opened in this request listens as."""
    return _realtime().listener()


def page_id() -> str:
    """This page's id: its requests carry it, and events name it, so a page can tell its own."""
    if "page_id" not in g:
        g.page_id = secrets.token_urlsafe(9)
    return g.page_id


def own_origin() -> str:
    """The shop's origin as this request reached it (scheme and host honour trusted proxies,
    ProxyFix): what a page's ``Origin`` must be for /ws and the fallback streams."""
    return f"{request.scheme}://{request.host}"


def requesting_page() -> str:
    value = request.headers.get("X-Page-Id", "")
    return value if PAGE_ID.match(value) else ""


def listening(channel: str) -> bool:
    """Whether any open page, in any process, listens on ``channel``: a publisher may skip
    building a message nobody would get. Errs towards yes."""
    return broker().listening(channel)


def publish(channel: str, html: str, *, since: float | None = None) -> None:
    """To every page listening on ``channel``, in every process. Call after the commit;
    ``since``: when the change was announced (``time.time()``), for the push's latency."""
    broker().publish(channel, {"html": html, "at": since or time.time()})


def close_sockets(channel: str, *, session: str | None = None, reason: str = "session") -> None:
    """Close the channel's sockets (one device session's, or all); pages reconnect as who they
    are now, so nothing more is pushed to them under the old identity."""
    broker().publish(channel, {"close": reason, "session": session, "code": RECONNECT})


def close_all(app: Flask, reason: str = "server restarting") -> None:
    """Shutdown: every socket closes with 1012, and its page reconnects (to another instance
    behind the load balancer, or to this one when it is back). No reload needed."""
    live = _realtime(app)
    live.broker.stop()
    live.registry.close_all(Close(RECONNECT, reason))
