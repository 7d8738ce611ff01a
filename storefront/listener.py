"""gunicorn's gevent workers taking turns at the listening socket (gunicorn.conf.py).

Every worker watches the one listening socket, and whichever is awake takes what is waiting:
16 keep-alive connections opened at once went 14 or 15 to one worker and the rest to the other
(bench/over_http.py prints the spread). Each worker answers only its own connections, so one
worker served nearly all of them, their latency doubled, and the other core idled.

Here each worker publishes how many connections it holds (an 8-byte counter in a file of its
own, mapped into memory, in a folder the server made for this), and a worker that holds more
than one more than the least busy of its siblings stops accepting after a connection it takes,
until it no longer does, so a sibling takes the next ones. If no sibling does within
MOST_PAUSE_SECONDS (all busy, or gone), it takes the next itself: connections are never
refused, only steered. A page's WebSocket does not count while it is one (it stays open,
idle, for as long as the page), and a worker that stops accepting (a restart) tells its
siblings at once.
"""

from __future__ import annotations

import contextlib
import mmap
import os
import time

PAUSE_SECONDS = 0.001  # how often a paused worker looks again
MOST_PAUSE_SECONDS = 0.02
LIST_EVERY_SECONDS = 1.0
SUFFIX = ".connections"
RETIRED = 1 << 62  # more connections than any worker holds


class LoadBoard:
    """This worker's counter of held connections, and its siblings' counters."""

    def __init__(self, folder: str, pid: int | None = None):
        self._folder = folder
        self._path = os.path.join(folder, f"{pid or os.getpid()}{SUFFIX}")
        fd = os.open(self._path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.ftruncate(fd, 8)
            self._map = mmap.mmap(fd, 8)
        finally:
            os.close(fd)
        self._own = memoryview(self._map).cast("q")
        self._siblings: dict[str, tuple[mmap.mmap, memoryview]] = {}
        self._listed_at = 0.0

    @property
    def held(self) -> int:
        return self._own[0]

    def add(self, count: int) -> None:
        # Only this worker writes its counter (one thread: the hub's), siblings only read it.
        if self._own[0] != RETIRED:
            self._own[0] += count

    def ahead(self) -> bool:
        """Whether this worker holds more than one connection more than a sibling does."""
        now = time.monotonic()
        # Alone so far (siblings still starting, or one replaced): look again every time.
        if not self._siblings or now - self._listed_at >= LIST_EVERY_SECONDS:
            self._list_siblings()
            self._listed_at = now
        mine = self._own[0]
        return mine != RETIRED and any(mine > view[0] + 1 for _, view in self._siblings.values())

    def _list_siblings(self) -> None:
        try:
            names = {n for n in os.listdir(self._folder) if n.endswith(SUFFIX)}
        except OSError:
            names = set()
        names.discard(os.path.basename(self._path))
        for name in list(self._siblings):
            if name not in names or not _alive(name):
                mapped, view = self._siblings.pop(name)
                view.release()
                mapped.close()
        for name in names - self._siblings.keys():
            if not _alive(name):  # a worker that died without removing its file
                continue
            with contextlib.suppress(OSError, ValueError):
                with open(os.path.join(self._folder, name), "rb") as file:
                    mapped = mmap.mmap(file.fileno(), 8, prot=mmap.PROT_READ)
                self._siblings[name] = (mapped, memoryview(mapped).cast("q"))

    def retire(self) -> None:
        """This worker stops accepting: no sibling is ever ahead of it again (its siblings see
        that at once; its file goes with close(), or with the worker)."""
        self._own[0] = RETIRED

    def close(self) -> None:
        with contextlib.suppress(OSError):
            os.unlink(self._path)


def _alive(name: str) -> bool:
    try:
        os.kill(int(name.removesuffix(SUFFIX)), 0)
    except (ValueError, ProcessLookupError):
        return False
    except PermissionError:
        return True
    return True
