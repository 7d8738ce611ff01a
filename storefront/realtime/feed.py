"""One open page's feed: what it hears on its channels, in order, until its session ends. The
same for every transport (the WebSocket, Server-Sent Events, a long poll), so each of them
authenticates, listens and stops listening the same way; a transport only frames and writes.
"""

from __future__ import annotations

import queue

from storefront import clock, metrics, realtime
from storefront.extensions import db
from storefront.realtime.registry import RECONNECT, Close, Greeting, Listener, Subscription

SIGNED_OUT = Close(RECONNECT, "signed out")


class Feed:
    """Registered from ``__enter__`` to ``__exit__``: publishes meanwhile reach its inbox.
    No database connection is held while it waits."""

    def __init__(self, listener: Listener):
        self.listener = listener
        self.subscription = Subscription(listener.channel, listener.session, also=listener.also)
        self._deadline = None

    def __enter__(self) -> Feed:
        realtime.registry().add(self.subscription)
        metrics.socket_opened()
        try:
            listener = self.listener
            self._deadline = listener.deadline() if listener.deadline else None
            db.session.remove()
            realtime.broker().start()
        except BaseException:
            metrics.socket_closed()
            realtime.registry().remove(self.subscription)
            raise
        return self

    def __exit__(self, *exc_info) -> None:
        metrics.socket_closed()
        realtime.registry().remove(self.subscription)
        db.session.remove()

    def greeting(self) -> Greeting:
        """What the page should show (its first message), read now that this feed listens: a
        change committed meanwhile is either in it or on its way to the inbox."""
        greeting = self.listener.greet()
        db.session.remove()
        return greeting

    def next(self, timeout: float) -> str | Close | None:
        """The next message, None if none came within ``timeout`` seconds, or a Close once the
        page must reconnect (told so, or its signed-in session has ended)."""
        try:
            message = self.subscription.inbox.get(timeout=timeout)
        except queue.Empty:
            message = None
        if isinstance(message, Close):
            return message
        return SIGNED_OUT if self._session_ended() else message

    def waiting(self) -> list[str | Close]:
        """What is already in the inbox, without waiting."""
        found: list[str | Close] = []
        while True:
            try:
                found.append(self.subscription.inbox.get_nowait())
            except queue.Empty:
                return found

    def _session_ended(self) -> bool:
        if self._deadline is None or clock.now() < self._deadline:
            return False
        # Renewed elsewhere meanwhile? Ask once more before closing.
        self._deadline = self.listener.deadline()
        db.session.remove()
        return self._deadline is None or clock.now() >= self._deadline
