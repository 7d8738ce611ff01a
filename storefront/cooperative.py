"""One code for both ways the shop is served: OS threads (werkzeug's server in the tests,
gunicorn ``-k gthread``) or greenlets (gunicorn's gevent worker, the default since issue 10).

Under gevent the worker is monkey-patched before the app is imported, so ``threading.Lock``,
``queue.SimpleQueue``, sockets and sleeps already yield to the hub by themselves. What does not
yield is a long call into C that never touches a patched primitive; on the hub's thread it
stops every other request and socket of the worker for its whole duration. ``blocking`` runs
such a call on one of gevent's native threads instead, and the calling greenlet waits
cooperatively.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def patched() -> bool:
    """True in a gevent-patched process (gunicorn's gevent worker), False otherwise."""
    monkey = sys.modules.get("gevent.monkey")  # never imports gevent where it is not in use
    # A thread may look while another is still importing gevent.monkey for the first time
    # (the tests do; a served worker patches before any thread starts): half-imported counts
    # as not patched, as it is not yet.
    is_module_patched = getattr(monkey, "is_module_patched", None)
    return is_module_patched is not None and is_module_patched("threading")


def blocking(function: Callable[..., T], *args) -> T:
    """``function(*args)`` where it holds no greenlet up: on a native thread of gevent's pool
    when patched (exceptions come back to the caller), directly otherwise."""
    if not patched():
        return function(*args)
    import gevent

    return gevent.get_hub().threadpool.apply(function, args)


def pass_turn() -> None:
    """Under gevent, let the greenlets just woken run now (a socket whose inbox was just filled
    sends at once, instead of after the publishing request has rendered its own response).
    Threads need nothing: the interpreter switches between them by itself."""
    if patched():
        import gevent

        gevent.sleep(0)


def wait_on_hub(gen, fileno: int, interval: float | None = 0.0, timeout: float | None = None):
    """psycopg's wait function (``psycopg.waiting.wait``'s signature), as gevent's own sockets
    wait: one watcher on the hub for each time the connection would block.

    Under gevent psycopg falls back to ``wait_poll`` on gevent's emulation of ``select.poll``:
    a poll object, a watcher started and stopped and a timer armed for every round trip to
    the database, which cost more CPU than the statements did (py-spy, issue 10). ``interval``
    (psycopg's periodic wake-up, for signals a blocked thread would miss) is not needed here: a
    waiting greenlet is woken, or killed, by the hub itself."""
    waits, either, ready_none, timed_out = _hub_waits or _look_up_hub_waits()
    deadline = None if timeout is None else time.monotonic() + timeout
    try:
        state = next(gen)
        while True:
            wait, ready = waits.get(state, either)
            if deadline is None:
                wait(fileno)
            else:
                try:
                    wait(fileno, timeout=max(0.0, deadline - time.monotonic()))
                except TimeoutError:
                    ready = ready_none
            # READY_RW after a wait for either: psycopg's steps read and flush without blocking.
            state = gen.send(ready)
            if deadline is not None and time.monotonic() >= deadline:
                raise timed_out("wait timeout expired")
    except StopIteration as done:
        return done.value


# What ``wait_on_hub`` waits with, looked up on its first call (gevent and psycopg are imported
# only where they are used): looking them up on every round trip was about 1 % of an add.
_hub_waits: tuple | None = None


def _look_up_hub_waits() -> tuple:
    global _hub_waits
    from gevent.socket import wait_read, wait_readwrite, wait_write
    from psycopg import errors
    from psycopg.waiting import READY_NONE, READY_R, READY_RW, READY_W, WAIT_R, WAIT_W

    waits = {WAIT_R: (wait_read, READY_R), WAIT_W: (wait_write, READY_W)}
    _hub_waits = (waits, (wait_readwrite, READY_RW), READY_NONE, errors._WaitTimeout)
    return _hub_waits


def wait_for_postgres_on_hub() -> None:
    """In a gevent-patched worker, psycopg waits with ``wait_on_hub`` (psycopg looks its wait
    function up in ``psycopg.waiting`` for every round trip; PSYCOPG_WAIT_FUNC only chooses
    among its own)."""
    if patched():
        import psycopg.waiting

        psycopg.waiting.wait = wait_on_hub
