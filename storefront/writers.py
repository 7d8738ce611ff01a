"""SQLite writers queue for the write lock instead of sleeping for it.

SQLite's own busy handler waits by sleeping (1, 2, 5 ... 100 ms at a time), so under concurrent
writes a change slept on long after the file was free: a loaded worker spent a third of its
time there and the p99 of an add reached seconds. Writers here take two locks before
``BEGIN IMMEDIATE`` and give them back once the COMMIT or ROLLBACK has reached SQLite: a lock
of the process (threads or greenlets of one worker), then an exclusive ``flock`` on a file
beside the database (the other workers, and the CLI). Both hand over as soon as released.
"""

from __future__ import annotations

import fcntl
import os
import threading

from storefront import cooperative

TIMEOUT = 30.0  # as long as SQLite's busy timeout


class WriterQueue:
    def __init__(self, database_path: str):
        self.path = database_path + "-writer.lock"
        self._threads = threading.Lock()
        self._fd = -1
        self._pid = 0

    def acquire(self) -> None:
        if not self._threads.acquire(timeout=TIMEOUT):
            raise TimeoutError("the database stayed busy with other changes")
        try:
            fd = self._file()
            try:
                # Free (the usual case with one worker writing at a time): taken at once. A
                # hand-off to gevent's thread pool for every write was a tenth of a loaded
                # worker's CPU, profiled.
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                # The kernel wakes the next in line. Under gevent the wait runs on a native
                # thread: on the hub's it would stop the whole worker while another process
                # writes.
                cooperative.blocking(fcntl.flock, fd, fcntl.LOCK_EX)
        except BaseException:
            self._threads.release()
            raise

    def release(self) -> None:
        try:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            self._threads.release()

    def _file(self) -> int:
        # One descriptor per process: a forked worker opens its own (flock is per open file).
        if self._pid != os.getpid():
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            self._pid = os.getpid()
        return self._fd


_queues: dict[str, WriterQueue] = {}
_by_given_path: dict[str, WriterQueue] = {}
_guard = threading.Lock()


def queue_for(database_path: str) -> WriterQueue:
    """The one queue of this process for this SQLite file (every engine on it shares it)."""
    queue = _by_given_path.get(database_path)
    if queue is None:  # resolving the path once: every write asks
        real = os.path.realpath(database_path)
        with _guard:
            queue = _by_given_path[database_path] = _queues.setdefault(real, WriterQueue(real))
    return queue
