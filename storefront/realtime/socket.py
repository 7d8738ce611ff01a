"""/ws: the shopper's other pages listen here. Same cookies as the pages; Origin checked before
the upgrade; the connection's own thread is the only writer; no database connection is held
while the socket idles.
"""

from __future__ import annotations

import queue
from datetime import timedelta

from flask import Blueprint, abort, current_app, request
from flask_login import current_user

from storefront import clock, realtime, shopper
from storefront.accounts.services import session_key, session_last_seen
from storefront.cart import store
from storefront.extensions import db, sock
from storefront.realtime import events
from storefront.realtime.registry import Close, Subscription

bp = Blueprint("realtime", __name__)
KEEPALIVE_SECONDS = 25
PING = '<template data-control="ping"></template>'


@bp.before_request
def check_handshake():
    if request.headers.get("Upgrade", "").lower() != "websocket":
        abort(400, "This address speaks WebSocket only.")
    origin = request.headers.get("Origin")
    # request.scheme and host already honour trusted proxies (ProxyFix).
    if not origin or origin != f"{request.scheme}://{request.host}":
        abort(403)


def _session_deadline(token: str | None):
    """When this signed-in device session would time out if nothing renewed it."""
    if token is None:
        return None
    last_seen = session_last_seen(token)
    minutes = current_app.config["SESSION_TIMEOUT_MINUTES"]
    return None if last_seen is None else last_seen + timedelta(minutes=minutes)


@sock.route("/ws", bp=bp)
def cart_socket(ws):
    owner = shopper.current_owner()
    token = current_user.get_id() if current_user.is_authenticated else None
    subscription = Subscription(realtime.channel_for(owner), session_key(token) if token else None)
    registry = realtime.registry()
    registry.add(subscription)
    try:
        snap = store.read(owner)
        deadline = _session_deadline(token)
        db.session.remove()  # hold no connection while idle
        realtime.broker().start()
        ws.send(events.hello(snap.cart_id, snap.version))
        while ws.connected:
            try:
                message = subscription.inbox.get(timeout=KEEPALIVE_SECONDS)
            except queue.Empty:
                message = PING
            if isinstance(message, Close):
                ws.close(reason=message.code, message=message.reason)
                break
            if deadline is not None and clock.now() >= deadline:
                deadline = _session_deadline(token)
                db.session.remove()
                if deadline is None or clock.now() >= deadline:
                    ws.close(reason=1012, message="signed out")
                    break
            ws.send(message)
    finally:
        registry.remove(subscription)
        db.session.remove()
