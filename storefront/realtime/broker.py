"""publish(channel, envelope) to every process's sockets on that channel.

Between one machine's workers (``siblings.py``, the default), or with STOREFRONT_REDIS_URL
across machines: Redis pub/sub under
STOREFRONT_REDIS_PREFIX, one subscriber thread per process fanning out to that process's
sockets. Publishing never fails a cart request: if Redis is away the event is lost, pages
revalidate, and when the subscriber reconnects it tells every socket here to resync. Which
channels have a page listening anywhere is kept in Redis too (``presence.py``), so a change
nobody is watching is neither rendered nor published.
"""

from __future__ import annotations

import json
import logging
import os
import random
import secrets
import socket
import threading
import time

from storefront import metrics
from storefront.realtime.presence import RedisMarks
from storefront.realtime.registry import RESYNC, Registry

log = logging.getLogger(__name__)

# How long a page's socket waits, in a process that has just started, for the subscriber's
# first subscription before greeting the page anyway (the subscriber then tells it to resync).
FIRST_SUBSCRIPTION_WAIT_SECONDS = 3.0


class RedisBroker:
    def __init__(self, registry: Registry, url: str, prefix: str):
        import redis

        self.registry = registry
        self.prefix = f"{prefix}:cart:"  # the name predates non-cart channels; kept for upgrades
        self.client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        # The subscriber blocks on reads, so no read timeout; periodic PINGs find a dead server.
        self.listen_client = redis.Redis.from_url(
            url, socket_connect_timeout=2, health_check_interval=10
        )
        self._listener: threading.Thread | None = None
        self._stopped = threading.Event()
        self._pid = 0
        self._lock = threading.Lock()
        self._prefix = prefix
        self._presence: RedisMarks | None = None
        self._subscribed = threading.Event()  # this process's subscriber has been subscribed
        self._greeted_unsubscribed = False
        registry.watch(self._sync_presence)

    def listening(self, channel: str) -> bool:
        """Whether a page of any instance listens on ``channel`` (see presence.py)."""
        if self.registry.holds(channel):
            return True
        if self._presence is None or self._pid != os.getpid():
            self._ensure_listening()
        return self._presence.anyone(channel)

    def _sync_presence(self, channel: str) -> None:
        if self._presence is not None and self._pid == os.getpid():
            self._presence.sync(channel)

    def publish(self, channel: str, envelope: dict) -> None:
        self._ensure_listening()
        try:
            self.client.publish(self.prefix + channel, json.dumps(envelope))
        except Exception as exc:  # Redis down: the change is committed; pages heal on revalidation
            metrics.dropped("redis_down")
            log.warning("realtime: publish failed (%s); pages will catch up", type(exc).__name__)

    def healthy(self) -> bool:
        try:
            return bool(self.client.ping())
        except Exception:
            return False

    def _ensure_listening(self) -> None:
        # Started lazily, and again after a fork: a thread does not survive into a gunicorn worker.
        if self._listener is not None and self._pid == os.getpid():
            return
        with self._lock:
            if self._listener is None or self._pid != os.getpid():
                process = f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(4)}"
                self._presence = RedisMarks(
                    self.registry.holds, self.registry.channels, self.client, self._prefix, process
                )
                self._subscribed = threading.Event()
                self._greeted_unsubscribed = False
                self._pid = os.getpid()
                for channel in self.registry.channels():
                    self._presence.sync(channel)
                self._listener = threading.Thread(
                    target=self._listen, name="redis-cart", daemon=True
                )
                self._listener.start()

    def start(self) -> None:
        """Before a page's socket is greeted: a change published once its hello is read must
        reach it, so in a process that has just started (a new worker after a deploy or a
        reload) the greeting waits until the subscriber is subscribed. Redis slow or away:
        the page is greeted anyway and told to resync once the subscriber is in."""
        self._ensure_listening()
        if not self._subscribed.is_set() and not self._subscribed.wait(
            FIRST_SUBSCRIPTION_WAIT_SECONDS
        ):
            self._greeted_unsubscribed = True

    def stop(self) -> None:
        """The subscriber ends after its current wait (shutdown: every socket here is closing)."""
        self._stopped.set()

    def _listen(self) -> None:
        failures = 0
        while not self._stopped.is_set():
            try:
                # Its confirmations are read, not ignored. Closed on the way out, failed or
                # stopped: not left holding a connection through the back-off.
                with self.listen_client.pubsub() as pubsub:
                    self._subscribe(pubsub)
                    # Every page here marked before any is told to resync: a mark that failed
                    # while Redis was away would otherwise keep a page's changes from it.
                    self._presence.reconcile()
                    if failures:
                        metrics.redis_reconnected()
                        log.warning("realtime: Redis is back; asking every page here to resync")
                    if failures or self._greeted_unsubscribed:
                        self.registry.broadcast(RESYNC)
                    self._greeted_unsubscribed = False
                    self._subscribed.set()
                    failures = 0
                    while not self._stopped.is_set():
                        self._presence.refresh_if_due()
                        message = pubsub.get_message(timeout=5.0)
                        if message is not None and message["type"] == "pmessage":
                            channel = message["channel"].decode()[len(self.prefix) :]
                            self.registry.deliver(channel, json.loads(message["data"]))
            except Exception as exc:
                # Redis away: pages are greeted without waiting (each would wait the whole
                # FIRST_SUBSCRIPTION_WAIT_SECONDS otherwise); they are told to resync once the
                # subscriber is back, as every page here is after an outage.
                self._subscribed.set()
                failures += 1
                delay = min(10.0, 0.2 * 2 ** min(failures, 6)) * (0.5 + random.random() / 2)
                log.warning("realtime: Redis subscriber lost (%s); retrying", type(exc).__name__)
                self._stopped.wait(delay)

    def _subscribe(self, pubsub) -> None:
        """Subscribed once Redis has confirmed it: a message published before the confirmation
        may not reach this process."""
        pubsub.psubscribe(self.prefix + "*")
        deadline = time.monotonic() + 5.0
        while time.monotonic() < deadline:
            reply = pubsub.get_message(timeout=1.0)
            if reply is not None and reply["type"] == "psubscribe":
                return
        raise TimeoutError("Redis did not confirm the subscription")
