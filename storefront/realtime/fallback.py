"""For pages whose WebSocket cannot get through (some proxies and networks block it): the same
feed over Server-Sent Events (/live/events), or, where a proxy holds streamed answers back too,
over long polls (/live/poll). Same cookies, same channels, same messages, same fan-out as /ws
(``feed.py``); the page falls back by itself and goes back to the socket once it works.

Browsers send no ``Origin`` on a same-origin EventSource or GET, so the origin check reads
``Sec-Fetch-Site`` as well; neither stream renews a signed-in session's idle timeout (see
accounts.routes.NOT_ACTIVITY): a page left open is not a shopper at work.
"""

from __future__ import annotations

import re

from flask import Blueprint, Response, jsonify, request, stream_with_context
from flask_wtf.csrf import validate_csrf
from wtforms.validators import ValidationError

from storefront import metrics, realtime
from storefront.errorpages import refusal
from storefront.realtime.feed import Feed
from storefront.realtime.registry import PING, Close

bp = Blueprint("live", __name__)

# A comment line this often keeps proxies from closing an idle stream, and lets the server
# notice a page that is gone (the write fails) and stop listening for it.
KEEPALIVE_SECONDS = 15
# A poll is answered at once when something is waiting, else after this long with nothing:
# under the idle timeouts of common proxies (30 to 60 s).
POLL_SECONDS = 20
# Tried again this long after a stream ends (EventSource's own retry, for a page without our
# script's control of it).
RETRY_MS = 3000
STATE = re.compile(r"^[A-Za-z0-9_-]{0,64}:[0-9]{1,11}$")
SAME_ORIGIN_ONLY = "Live updates are only for the shop's own pages."


def _refused_origin(*, token_allowed: bool) -> Response | None:
    """Like /ws's handshake: a request from another site is refused. ``Origin``, when sent,
    must be the shop's own; ``Sec-Fetch-Site``, when sent, must say same-origin. A browser
    sends neither on plain http to a host other than localhost: then only a poll carrying the
    page's CSRF token in a header (which no other site can read or set) is let through."""
    origin = request.headers.get("Origin")
    site = request.headers.get("Sec-Fetch-Site")
    if origin is not None and origin != realtime.own_origin():
        return refusal(403, "cross_site", SAME_ORIGIN_ONLY)
    if site is not None:
        return None if site == "same-origin" else refusal(403, "cross_site", SAME_ORIGIN_ONLY)
    if origin is not None:
        return None
    if token_allowed:
        try:
            validate_csrf(request.headers.get("X-CSRF-Token", ""))
            return None
        except ValidationError:
            return refusal(403, "csrf_failed", "The page's security token is missing or stale.")
    return refusal(
        403, "cross_site", f"{SAME_ORIGIN_ONLY} This browser did not say where it comes from."
    )


@bp.get("/live/events")
def events():
    """Server-Sent Events: the hello, then every message as one ``data:`` event; ``close``
    (the page must connect again, as who it is now) ends the stream."""
    refused = _refused_origin(token_allowed=False)
    if refused is not None:
        return refused
    listener = realtime.listener()

    def stream():
        with Feed(listener) as feed:
            yield f"retry: {RETRY_MS}\n" + _event(feed.greeting().hello)
            while True:
                message = feed.next(KEEPALIVE_SECONDS)
                if message is None or message == PING:
                    # A named event, not a comment: the page's watchdog sees it.
                    yield "event: ping\ndata:\n\n"
                elif isinstance(message, Close):
                    yield _event(message.reason or "reconnect", kind="close")
                    return
                else:
                    yield _event(message)
                    metrics.pushed(getattr(message, "at", None))

    return Response(
        stream_with_context(stream()),
        mimetype="text/event-stream",
        # No proxy (nginx: X-Accel-Buffering) may hold the stream back or store it.
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


def _event(data: str, kind: str = "") -> str:
    head = f"event: {kind}\n" if kind else ""
    # Each line of the message is a data line; the page gets them joined by newlines again.
    return head + "".join(f"data: {line}\n" for line in data.split("\n")) + "\n"


@bp.get("/live/poll")
def poll():
    """A long poll: ``{"messages": [...]}``, what the page would have heard on its socket,
    answered as soon as there is something or after POLL_SECONDS with nothing; ``"reconnect":
    reason`` when the page must poll again as who it is now. ``state`` (what the page shows,
    "<cart id>:<version>") left out or stale: the hello comes first, at once."""
    refused = _refused_origin(token_allowed=True)
    if refused is not None:
        return refused
    shown = request.args.get("state")
    if shown is not None and not STATE.match(shown):
        return refusal(
            400, "bad_request", 'state must be what the page shows, "<cart id>:<version>".'
        )
    with Feed(realtime.listener()) as feed:
        now = feed.greeting()
        if shown != now.state:
            return _answer([now.hello, *feed.waiting()])
        first = feed.next(POLL_SECONDS)
        return _answer([] if first is None else [first, *feed.waiting()])


def _answer(messages: list[str | Close | None]) -> Response:
    heard = [m for m in messages if isinstance(m, str) and m != PING]
    closed = next((m for m in messages if isinstance(m, Close)), None)
    body: dict[str, object] = {"messages": heard}
    if closed is not None:
        body["reconnect"] = closed.reason or "reconnect"
    response = jsonify(body)
    response.headers["Cache-Control"] = "no-store"
    return response
