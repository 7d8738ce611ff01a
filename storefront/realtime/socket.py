"""/ws: open pages listen here. Same cookies as the pages; Origin checked before the upgrade;
the connection's own thread is the only writer; no database connection is held while the
socket idles.
"""

from __future__ import annotations

from flask import Blueprint, abort, request
from simple_websocket import ConnectionClosed

from storefront import metrics, realtime
from storefront.extensions import sock
from storefront.realtime.feed import Feed
from storefront.realtime.registry import PING, Close

bp = Blueprint("realtime", __name__)
KEEPALIVE_SECONDS = 25


@bp.before_request
def check_handshake():
    if request.headers.get("Upgrade", "").lower() != "websocket":
        abort(400, "This address speaks WebSocket only.")
    origin = request.headers.get("Origin")
    if not origin or origin != realtime.own_origin():
        abort(403)
    # No permessage-deflate: its zlib state took about 90 KB per open page (bench/sockets.py,
    # 143 against 51 KB per socket), and pushes are small fragments. Without the offer the
    # handshake (simple-websocket reads it from the environ) negotiates no extension.
    request.environ.pop("HTTP_SEC_WEBSOCKET_EXTENSIONS", None)


@sock.route("/ws", bp=bp)
def page_socket(ws):
    with Feed(realtime.listener()) as feed:
        ws.send(feed.greeting().hello)
        while ws.connected:
            message = feed.next(KEEPALIVE_SECONDS) or PING
            if isinstance(message, Close):
                ws.close(reason=message.code, message=message.reason)
                break
            try:
                ws.send(message)
            except ConnectionClosed:
                metrics.dropped("socket_closed")
                raise
            if message is not PING:
                metrics.pushed(getattr(message, "at", None))
