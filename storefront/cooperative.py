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
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def patched() -> bool:
    """True in a gevent-patched process (gunicorn's gevent worker), False otherwise."""
    monkey = sys.modules.get("gevent.monkey")  # never imports gevent where it is not in use
    return monkey is not None and monkey.is_module_patched("threading")


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
