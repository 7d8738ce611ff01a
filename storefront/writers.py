"""SQLite writers queue for the write lock instead of sleeping for it.

SQLite's own busy handler waits by sleeping (1, 2, 5 ... 100 ms at a time), so under concurrent
writes a change slept on long after the file was free: a loaded worker spent a third of its
time there and the p99 of an add reached seconds. Writers here take two locks before
``BEGIN IMMEDIATE`` and give them back once the COMMIT or ROLLBACK has reached SQLite: a lock
of the process (threads or greenlets of one worker), then an exclusive ``flock`` on a file
beside the database (the other workers, and the CLI). Both hand over as soon as released.

Between processes the file lock alone was not fair: a worker releasing it took it straight
back for its next queued writer (a free ``flock`` is taken at once), while the other worker's
waiter was still being woken, so under load one worker's writers waited for a second and more
(an add's p99 of 1.2 s at 16 connections, measured). So a second file is a turnstile: a writer
holds it while it waits for the lock and lets go once it has the lock. A worker whose writer
waits thus holds the turnstile, and the other worker's next writer must wait behind it: under
contention the processes take turns. Inside a process the same holds for its writers: a plain
lock lets a newly arrived writer take it while the one woken for it has not run yet, so the lock
is handed over in arrival order (``HandOffLock``).
"""

from __future__ import annotations

import collections
import fcntl
import os
import threading
from typing import Protocol

from storefront import cooperative

TIMEOUT = 30.0  # as long as SQLite's busy timeout


class Closable(Protocol):
    def close(self) -> None: ...


class HandOffLock:
    """A lock passed to its waiters in arrival order: a release hands it to the first waiter
    directly, so a writer that arrives just then cannot take it first. (Threads, or greenlets
    under gevent, whose ``threading`` is patched.)"""

    def __init__(self):
        self._mutex = threading.Lock()
        self._held = False
        # Who holds it (None while it is being handed over): a holder asking again is a bug.
        self._holder: int | None = None
        self._waiters: collections.deque[threading.Event] = collections.deque()
        # What the last holder passed to the one it handed the lock to (``release``).
        self.passed: object = None

    def acquire(self, timeout: float) -> bool:
        me = threading.get_ident()  # the greenlet's, under gevent
        with self._mutex:
            if not self._held:
                self._held, self._holder = True, me
                return True
            if self._holder == me:
                # It would wait for itself, for the whole timeout, and then blame "other
                # changes": a write through the session inside ``writers_transaction``, say.
                raise RuntimeError(
                    "this thread already holds the database's write lock: a write inside "
                    "another must run on that write's connection"
                )
            turn = threading.Event()
            self._waiters.append(turn)
        if turn.wait(timeout):
            self._holder = me
            return True
        with self._mutex:
            if turn.is_set():  # handed over just as the wait timed out: it is ours
                self._holder = me
                return True
            self._waiters.remove(turn)
            return False

    def release(self, passing: object = None) -> object:
        """Hand the lock, and ``passing`` with it (``passed``), to the first waiter; with none
        waiting, ``passing`` comes back to the caller."""
        with self._mutex:
            self._holder = None
            if self._waiters:
                self.passed = passing
                self._waiters.popleft().set()  # still held: now by the first waiter
                return None
            self._held = False
            return passing


class WriterQueue:
    def __init__(self, database_path: str):
        self.path = database_path + "-writer.lock"
        self.turnstile_path = database_path + "-writer.turn"
        self._threads = HandOffLock()
        self._fd = self._turn_fd = -1
        self._pid = 0
        # The holder's database connection, if it keeps one: passed from writer to writer of
        # this process while they queue, given back by the last (``release``).
        self.connection: Closable | None = None

    def acquire(self) -> None:
        if not self._threads.acquire(TIMEOUT):
            raise TimeoutError("the database stayed busy with other changes")
        self.connection, self._threads.passed = self._threads.passed, None
        try:
            self._files()
            _lock(self._turn_fd)
            try:
                _lock(self._fd)
            finally:
                fcntl.flock(self._turn_fd, fcntl.LOCK_UN)
        except BaseException:
            _close(self._release_threads())
            raise

    def release(self) -> Closable | None:
        """Let the lock go. The holder's connection goes with it to the next writer of this
        process; with none waiting it comes back: the caller keeps it or closes it."""
        try:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        except BaseException:
            _close(self._release_threads())
            raise
        return self._release_threads()

    def _release_threads(self) -> Closable | None:
        # Taken from the slot first: the next holder fills it as soon as the lock is theirs.
        connection, self.connection = self.connection, None
        return self._threads.release(connection)

    def _files(self) -> None:
        # One descriptor each per process: a forked worker opens its own (flock is per open
        # file).
        if self._pid != os.getpid():
            flags = os.O_RDWR | os.O_CREAT | os.O_CLOEXEC
            self._fd = os.open(self.path, flags, 0o600)
            self._turn_fd = os.open(self.turnstile_path, flags, 0o600)
            self._pid = os.getpid()


def _close(connection: Closable | None) -> None:
    if connection is not None:
        connection.close()


def _lock(fd: int) -> None:
    try:
        # Free (the usual case with one worker writing at a time): taken at once. A hand-off
        # to gevent's thread pool for every write was a tenth of a loaded worker's CPU,
        # profiled.
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        # The kernel wakes the next in line. Under gevent the wait runs on a native thread: on
        # the hub's it would stop the whole worker while another process writes.
        cooperative.blocking(fcntl.flock, fd, fcntl.LOCK_EX)


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
