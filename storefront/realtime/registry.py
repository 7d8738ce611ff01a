"""This process's open sockets, by channel. Each socket drains its own queue in its own thread
(a greenlet under gunicorn's gevent worker), so exactly one thread ever writes to a socket;
publishers only enqueue.

Under gevent the worker is patched before this module is imported: ``queue.SimpleQueue`` is then
the pure-Python queue built on gevent's locks, so a socket waiting on its inbox yields to the
hub (the C queue would block it). The queue class is looked up when each inbox is made, not
when this module is imported.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from storefront import cooperative

log = logging.getLogger(__name__)

# Close codes. 1012 (service restart) makes pages reconnect by themselves, with backoff: used
# for shutdown and for "your session changed, connect again with your new cookie".
RECONNECT = 1012
# Controls the page's script acts on instead of swapping: fetch everything once; stay alive.
RESYNC = '<template data-control="resync"></template>'
PING = '<template data-control="ping"></template>'


@dataclass(frozen=True)
class Greeting:
    hello: str  # the first message: tells the page what the server holds now
    # What the hello says the page should show, as a polling page names what it shows (see
    # fallback.py): a page that already shows it needs no hello.
    state: str


@dataclass(frozen=True)
class Listener:
    """Who a new socket listens as, decided by the app from the handshake's cookies."""

    channel: str
    # Read once the page listens (``Feed.greeting``): a change committed meanwhile is then
    # either in it or on its way to the inbox, never in neither.
    greet: Callable[[], Greeting]
    session: str | None = None  # the signed-in device session (its sockets close with it)
    # When that session ends unless renewed; asked again only once the answer has passed.
    deadline: Callable[[], datetime | None] | None = None
    # Channels every page hears besides its own (the catalog's changes): one event published
    # there reaches each socket once, the very same string in every inbox.
    also: tuple[str, ...] = ()


class Pushed(str):
    """A published message as the sockets send it, with when its change was announced
    (``time.time()``) for the push latency metric."""

    at: float


def _pushed(html: str, at: object) -> str:
    if not isinstance(at, float):
        return html
    message = Pushed(html)
    message.at = at
    return message


@dataclass(frozen=True)
class Close:
    code: int = RECONNECT
    reason: str = ""


@dataclass(eq=False)
class Subscription:
    channel: str
    session_key: str | None = None  # the signed-in device session this socket belongs to
    inbox: queue.SimpleQueue = field(default_factory=lambda: queue.SimpleQueue())
    also: tuple[str, ...] = ()  # further channels it listens on (see Listener.also)

    @property
    def channels(self) -> tuple[str, ...]:
        return (self.channel, *self.also)

    def put(self, message: str | Close) -> None:
        self.inbox.put(message)


class Registry:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._channels: dict[str, set[Subscription]] = defaultdict(set)
        self._closing: Close | None = None
        self._watchers: list[Callable[[str], None]] = []

    def watch(self, watcher: Callable[[str], None]) -> None:
        """``watcher(channel)`` after a socket starts listening on a channel here, and after a
        channel loses its last socket here (outside the lock: a watcher may talk to Redis; it
        asks ``holds`` for the truth). Told on every socket, not only a channel's first: a
        second page must not greet before the first page's mark is in."""
        self._watchers.append(watcher)

    def holds(self, channel: str) -> bool:
        """Whether a socket of this process listens on ``channel``."""
        return channel in self._channels

    def channels(self) -> list[str]:
        with self._lock:
            return list(self._channels)

    def _tell(self, channels) -> None:
        for channel in channels:
            for watcher in self._watchers:
                try:
                    watcher(channel)
                except Exception:  # a watcher's failure must not leave a socket half-added
                    log.exception("realtime: a registry watcher failed")

    def add(self, subscription: Subscription) -> None:
        with self._lock:
            for channel in subscription.channels:
                self._channels[channel].add(subscription)
            closing = self._closing
        self._tell(subscription.channels)
        if closing is not None:
            # A socket opened after shutdown began (the worker accepts for up to a second
            # more) would otherwise hold the worker for its whole graceful timeout, then drop.
            subscription.put(closing)

    def remove(self, subscription: Subscription) -> None:
        emptied = []
        with self._lock:
            for channel in subscription.channels:
                members = self._channels.get(channel)
                if members is not None:
                    members.discard(subscription)
                    if not members:
                        del self._channels[channel]
                        emptied.append(channel)
        self._tell(emptied)

    def _members(self, channel: str | None = None) -> list[Subscription]:
        with self._lock:
            if channel is None:  # each socket once, whatever channels it listens on
                return list({s for members in self._channels.values() for s in members})
            return list(self._channels.get(channel, ()))

    def deliver(self, channel: str, envelope: dict) -> int:
        """Hand an envelope from the broker to this process's sockets on ``channel``."""
        members = self._members(channel)
        html = _pushed(envelope["html"], envelope.get("at")) if "html" in envelope else None
        for subscription in members:
            if envelope.get("close"):
                wanted = envelope.get("session")
                if wanted is None or wanted == subscription.session_key:
                    subscription.put(Close(envelope.get("code", RECONNECT), envelope["close"]))
            else:
                subscription.put(html)
        if members:
            cooperative.pass_turn()  # under gevent the sockets send before the publisher goes on
        return len(members)

    def broadcast(self, message: str | Close) -> None:
        for subscription in self._members():
            subscription.put(message)

    def close_all(self, close: Close) -> None:
        """Shutdown: every socket closes with ``close``, and so does any opened from now on."""
        with self._lock:
            self._closing = close
        self.broadcast(close)

    def __len__(self) -> int:
        return len(self._members())
