"""Who is listening, across processes: lets a change skip building a push nobody would get.

Rendering a cart change's fragment and publishing it cost about a quarter of an add (issue 10,
docs/PERFORMANCE.md), and most changes (an API client, a shopper with one tab) have no other
page open to receive it. Each broker answers ``listening(channel)`` from its own means:

- ``CountersFile`` (the siblings broker): each worker keeps a file of counters in the instance
  folder, mapped into memory; a channel adds one to the counter its CRC names while this worker
  holds a socket on it. A publisher reads its siblings' files: no system call beyond listing the
  folder. Two channels may share a counter; that only costs a push nobody needed.
- ``RedisMarks``: a hash per channel naming the processes that hold sockets on it, expiring unless
  refreshed, so a process that died stops counting within ``TTL_SECONDS``. Each process's Redis
  subscriber reconciles its marks with its sockets after every (re)connection and every
  ``TTL_SECONDS / 3``: a mark that failed while Redis was away is made then.

Both err towards "someone is listening": a wrong yes costs a render, a wrong no a lost push.
A mark is set before the page's socket can receive anything; the page's first message (the
hello, read after the mark) tells it the version, so a change committed before the mark is
covered by the hello and one committed after it sees the mark.
"""

from __future__ import annotations

import contextlib
import logging
import mmap
import os
import threading
import time
import zlib
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger(__name__)

SLOTS = 1 << 18  # 4-byte counters: a 1 MiB sparse file per worker
SUFFIX = ".presence"
TTL_SECONDS = 60


def slot(channel: str) -> int:
    # Not hash(): it differs between processes.
    return zlib.crc32(channel.encode()) % SLOTS


class _NotOpen(Exception):
    """Nothing to mark in yet: whoever opens the marks counts what is held then."""


class _Marks:
    """The channels this process has marked, kept in step with the registry whatever order
    sockets open and close in: ``sync`` looks at the registry itself, under one lock, so a
    second page on a channel waits until the first page's mark is in."""

    def __init__(self, holds: Callable[[str], bool]):
        self._holds = holds
        self.lock = threading.Lock()
        self.marked: set[str] = set()

    def sync(self, channel: str, mark: Callable[[str], None], unmark: Callable[[str], None]):
        with self.lock:
            held = self._holds(channel)
            try:
                if held and channel not in self.marked:
                    mark(channel)
                    self.marked.add(channel)
                elif not held and channel in self.marked:
                    unmark(channel)
                    self.marked.discard(channel)
            except _NotOpen:
                pass


class CountersFile:
    """This worker's counters (``<stem>.presence`` beside its ``<stem>.sock``) and a reader of
    its siblings'."""

    def __init__(self, holds: Callable[[str], bool]):
        self._marks = _Marks(holds)
        self._own: memoryview | None = None
        self._own_map: mmap.mmap | None = None
        self._path = ""
        self._theirs: dict[str, tuple[mmap.mmap, memoryview]] = {}
        self._lock = threading.Lock()

    def open(self, path: Path, channels: list[str]) -> None:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.ftruncate(fd, SLOTS * 4)
            self._own_map = mmap.mmap(fd, SLOTS * 4)
        finally:
            os.close(fd)
        with self._marks.lock:
            self._own = memoryview(self._own_map).cast("I")
            self._path = str(path)
        for channel in channels:
            self.sync(channel)

    def sync(self, channel: str) -> None:
        self._marks.sync(channel, self._add_one, self._take_one)

    # Under the marks' lock, as close() is: the file is not unmapped in the middle of a change.
    # Before open() (or after close()) there is nothing to count in: open() counts what is held.
    def _add_one(self, channel: str) -> None:
        if self._own is None:
            raise _NotOpen
        self._own[slot(channel)] += 1

    def _take_one(self, channel: str) -> None:
        if self._own is None:
            raise _NotOpen
        index = slot(channel)
        self._own[index] = max(0, self._own[index] - 1)

    def anyone(self, channel: str, paths: list[str]) -> bool:
        """Whether a sibling's file (``paths``, as listed just now, each beside its worker's
        socket) counts the channel."""
        index = slot(channel)
        with self._lock:
            for gone in self._theirs.keys() - set(paths):  # workers that stopped
                self._close_theirs(gone)
            for path in paths:
                counters = self._open_theirs(path)
                if counters is None or counters[index]:
                    return True  # unreadable: assume someone listens
        return False

    def _open_theirs(self, path: str) -> memoryview | None:
        if path in self._theirs:
            return self._theirs[path][1]
        try:
            with open(path, "rb") as file:
                mapped = mmap.mmap(file.fileno(), SLOTS * 4, prot=mmap.PROT_READ)
        except (OSError, ValueError):
            return None
        view = memoryview(mapped).cast("I")
        self._theirs[path] = (mapped, view)
        return view

    def _close_theirs(self, path: str) -> None:
        mapped, view = self._theirs.pop(path)
        view.release()
        mapped.close()

    def close(self) -> None:
        with self._marks.lock:
            if self._own is not None:
                self._own.release()
                self._own_map.close()
                self._own = self._own_map = None
                self._marks.marked.clear()
                with contextlib.suppress(OSError):
                    os.unlink(self._path)


class RedisMarks:
    """``<prefix>:listening:<channel>``: a hash of process ids, expiring unless refreshed.

    Redis away: every question is answered yes at once for DOWN_SECONDS (rather than each
    waiting for the client's timeout), marks are left to ``reconcile``, which runs after the
    subscriber connects again and every TTL_SECONDS / 3."""

    DOWN_SECONDS = 5.0

    def __init__(
        self,
        holds: Callable[[str], bool],
        held: Callable[[], list[str]],
        client,
        prefix: str,
        process: str,
    ):
        self._marks = _Marks(holds)
        self._held = held
        self._client = client
        self._prefix = f"{prefix}:listening:"
        self._process = process
        self._refreshed = 0.0
        self._down_until = 0.0

    def _down(self) -> bool:
        return time.monotonic() < self._down_until

    def _failed(self, exc: Exception) -> None:
        self._down_until = time.monotonic() + self.DOWN_SECONDS
        log.warning("realtime: Redis presence unavailable (%s)", type(exc).__name__)

    def sync(self, channel: str) -> None:
        if self._down():
            return
        try:
            self._marks.sync(channel, self._mark, self._unmark)
        except Exception as exc:
            self._failed(exc)

    def _mark(self, channel: str) -> None:
        key = self._prefix + channel
        with self._client.pipeline(transaction=False) as pipe:
            pipe.hset(key, self._process, 1).expire(key, TTL_SECONDS).execute()

    def _unmark(self, channel: str) -> None:
        self._client.hdel(self._prefix + channel, self._process)

    def anyone(self, channel: str) -> bool:
        if self._down():
            return True
        try:
            return bool(self._client.exists(self._prefix + channel))
        except Exception as exc:
            self._failed(exc)
            return True  # unknown: assume someone listens

    def reconcile(self) -> None:
        """Mark every channel held here and unmark what is no longer held, whatever failed
        before. Raises if Redis does (the subscriber's loop then reconnects and calls again)."""
        with self._marks.lock:
            held = set(self._held())
            with self._client.pipeline(transaction=False) as pipe:
                for channel in held:
                    key = self._prefix + channel
                    pipe.hset(key, self._process, 1).expire(key, TTL_SECONDS)
                for channel in self._marks.marked - held:
                    pipe.hdel(self._prefix + channel, self._process)
                pipe.execute()
            self._marks.marked = held
        self._refreshed = time.monotonic()
        self._down_until = 0.0

    def refresh_if_due(self) -> None:
        """From the subscriber's loop (at least every few seconds): before the keys expire."""
        if time.monotonic() - self._refreshed >= TTL_SECONDS / 3:
            self.reconcile()
