"""The broker of one machine's worker processes, when there is no Redis.

Each worker that serves sockets binds a Unix datagram socket in a folder of the instance
(mode 0700); a publish delivers to this process's own sockets at once and sends one datagram
to every other socket in the folder. Nothing to run or configure: this is what lets the
embedded default serve with one worker per core. A worker that died leaves its socket file
behind; the first send that is refused removes it. Datagrams are bounded: an event too large
for one goes out as "resync" (the pages fetch the cart once). Beside its socket each worker
keeps a file of counters of the channels its sockets listen on (``presence.py``), so a change
nobody is watching is neither rendered nor sent.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import secrets
import socket
import threading
import time
from pathlib import Path

from storefront import metrics
from storefront.realtime.presence import SUFFIX, CountersFile
from storefront.realtime.registry import RESYNC, Registry

log = logging.getLogger(__name__)
MAX_DATAGRAM = 200_000  # under Linux's default socket buffer (212,992 bytes)
GONE = (errno.ECONNREFUSED, errno.ENOENT, errno.ENOTSOCK)
# A folder's listing is kept once its last change is this far in the past: many clock ticks.
SETTLED_NS = 100_000_000


class SiblingsBroker:
    def __init__(self, registry: Registry, directory: Path):
        self.registry = registry
        self.directory = directory
        self._sender = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._sender.setblocking(False)  # a sibling that cannot keep up never stalls a change
        self._inbox: socket.socket | None = None
        self._address = ""
        self._pid = 0
        self._lock = threading.Lock()
        self._presence = CountersFile(registry.holds)
        registry.watch(self._presence.sync)
        # (the folder's modification time, this worker's own name, the other files) or None
        self._listing: tuple[int, str, list[str]] | None = None

    def listening(self, channel: str) -> bool:
        """Whether a page of this machine listens on ``channel`` (see presence.py). Only the
        counters beside a worker's socket count: a file left by a worker killed before it
        bound its socket, or while it removed it, says nothing."""
        if self.registry.holds(channel):
            return True
        others = self._others()
        sockets = {path for path in others if path.endswith(".sock")}
        counters = [
            path
            for path in others
            if path.endswith(SUFFIX) and path.removesuffix(SUFFIX) + ".sock" in sockets
        ]
        return self._presence.anyone(channel, counters)

    def publish(self, channel: str, envelope: dict) -> None:
        # The other workers first: a datagram is out in microseconds, and they serve their
        # pages on the other cores while this process serves its own (delivering here lets
        # this process's sockets send before the publisher goes on, a page's echo included).
        self._to_siblings(channel, envelope)
        self.registry.deliver(channel, envelope)  # this process's pages, at once

    def _to_siblings(self, channel: str, envelope: dict) -> None:
        payload = json.dumps({"channel": channel, "envelope": envelope}).encode()
        if len(payload) > MAX_DATAGRAM:
            resync = {"channel": channel, "envelope": {"html": RESYNC}}
            payload = json.dumps(resync).encode()
        for sibling in self._siblings():
            try:
                self._sender.sendto(payload, sibling)
            except BlockingIOError:
                metrics.dropped("sibling_full")
                log.warning("realtime: a sibling's inbox is full; its pages will catch up")
            except OSError as exc:
                if exc.errno in GONE:  # a worker that is gone: forget its address
                    with contextlib.suppress(OSError):
                        os.unlink(sibling)
                    with contextlib.suppress(OSError):
                        os.unlink(sibling.removesuffix(".sock") + SUFFIX)

    def _siblings(self) -> list[str]:
        return [path for path in self._others() if path.endswith(".sock")]

    def _others(self) -> list[str]:
        """Other workers' files in the folder (sockets and counters), in one listing.

        Every change a page listens to asks (listing the folder was 1 % of a cart add, issue
        10), and the folder changes only when a worker starts or stops: the listing is kept
        while the folder's modification time stays what it was. Only a listing taken once that
        time is well in the past is kept: the kernel's file times are coarse (a clock tick), so
        a file added within the same tick as the last change would not move it."""
        try:
            stamp = os.stat(self.directory).st_mtime_ns
        except FileNotFoundError:
            return []
        own = self._address.removesuffix(".sock")
        kept = self._listing
        if kept is not None and kept[0] == stamp and kept[1] == own:
            return kept[2]
        try:
            entries = os.scandir(self.directory)
        except FileNotFoundError:
            return []
        with entries:
            others = [e.path for e in entries if os.path.splitext(e.path)[0] != own]
        if time.time_ns() - stamp > SETTLED_NS:
            self._listing = (stamp, own, others)
        return others

    def start(self) -> None:
        """Listen (once per process: a listener does not survive into a forked worker)."""
        if self._inbox is not None and self._pid == os.getpid():
            return
        with self._lock:
            if self._inbox is not None and self._pid == os.getpid():
                return
            self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            self.directory.parent.chmod(0o700)
            stem = self.directory / f"{os.getpid()}-{secrets.token_hex(4)}"
            # The counters first: a page counted there gets its hello only afterwards.
            self._presence.open(Path(f"{stem}{SUFFIX}"), self.registry.channels())
            address = f"{stem}.sock"
            inbox = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            inbox.bind(address)
            self._inbox, self._address, self._pid = inbox, address, os.getpid()
            listener = threading.Thread(target=self._listen, args=(inbox,), daemon=True)
            listener.start()

    def _listen(self, inbox: socket.socket) -> None:
        while True:
            try:
                message = json.loads(inbox.recv(MAX_DATAGRAM + 1024))
                self.registry.deliver(message["channel"], message["envelope"])
            except OSError:
                return  # closed at shutdown
            except (ValueError, KeyError, TypeError):
                log.warning("realtime: dropped a malformed message from a sibling")

    def stop(self) -> None:
        """Shutdown: siblings stop sending here."""
        if self._inbox is not None and self._pid == os.getpid():
            with contextlib.suppress(OSError):
                os.unlink(self._address)
            self._presence.close()
            self._inbox.close()
            self._inbox = None

    def healthy(self) -> bool:
        return True
