"""gunicorn reads this from the repository root by itself; -b, -w and -k on the command line win.

One worker per core (STOREFRONT_WORKERS to change it). Workers reach each other's open pages
through Redis when STOREFRONT_REDIS_URL is set, else through datagram sockets in the instance
folder (storefront/realtime/siblings.py): one machine needs nothing more. Worker model: gevent.
Every open page holds a WebSocket, and a socket costs a greenlet, not an OS thread;
STOREFRONT_CONNECTIONS (default 10,000) caps the connections (open sockets plus requests in
flight) one worker serves at once. Measured on 2 cores (bench/sockets.py, docs/PERFORMANCE.md
"Open pages"): the SQLite default's 2 workers held 5,000 open pages in 405 MB together (162 MB
idle, about 50 KB a socket) and 4 threads; the worst of 20 GET / meanwhile took 28 ms, a push to
a shopper's 3 pages p99 17 ms. The gthread design it replaces connected 1,100 sockets per
worker (2,203 threads) and then answered nothing at all.

gunicorn's gevent worker monkey-patches the worker process before it loads the app, so nothing
here may import the app (or anything that takes locks or starts threads) at the top: storefront
is imported only inside the hooks, which run after the patch. ``preload_app`` stays off for the
same reason.

The worker class is gunicorn's gevent worker whose workers take turns at the listening socket
(``TakingTurnsGeventWorker`` below, storefront/listener.py): connections opened at once no
longer go nearly all to one worker. ``-k gthread`` still works (one thread per open socket,
sized by STOREFRONT_THREADS, with ``--worker-connections`` about twice that), and ``-k gevent``
gives gunicorn's own gevent worker.
"""

import contextlib
import os
import resource
import shutil
import tempfile
import time

import gevent
from gevent.server import StreamServer
from gunicorn.workers import ggevent

wsgi_app = "wsgi:app"
bind = [os.environ.get("STOREFRONT_BIND", "127.0.0.1:8000")]


class _TakingTurns(StreamServer):
    """A worker's listener that leaves the next connection to a sibling while it holds more
    connections than that sibling does (storefront/listener.py says why and how)."""

    board = None  # the worker's LoadBoard

    def do_handle(self, *args):
        self.board.add(1)
        super().do_handle(*args)
        if self.board.ahead():
            self.stop_accepting()
            gevent.spawn(self._take_turn)

    def do_close(self, *args):
        self.board.add(-1)
        super().do_close(*args)

    def _take_turn(self):
        from storefront import listener

        deadline = time.monotonic() + listener.MOST_PAUSE_SECONDS
        while time.monotonic() < deadline:
            gevent.sleep(listener.PAUSE_SECONDS)
            if not self.board.ahead():
                break
        if self.started:  # not closed meanwhile (the worker stopping)
            self.start_accepting()

    def close(self):
        # Stopping (a restart, a reload): siblings no longer wait for this worker to take turns.
        self.board.retire()
        super().close()


class TakingTurnsGeventWorker(ggevent.GeventWorker):
    """gunicorn's gevent worker, whose listener takes turns with its siblings' (one worker, or
    no folder to publish in: gunicorn's own)."""

    def handle_request(self, listener_name, req, sock, addr):
        # A page's WebSocket stays open, idle, for as long as the page: what a worker holds is
        # the connections that carry requests, so a socket stops counting while it is one.
        board = _TakingTurns.board
        socket = board is not None and any(
            name == "UPGRADE" and value.lower() == "websocket" for name, value in req.headers
        )
        if socket:
            board.add(-1)
        try:
            return super().handle_request(listener_name, req, sock, addr)
        finally:
            if socket:
                board.add(1)

    def run(self):
        folder = os.environ.get("STOREFRONT_LISTENERS_DIR")
        if self.cfg.workers > 1 and folder:
            from storefront.listener import LoadBoard

            _TakingTurns.board = LoadBoard(folder)
            ggevent.StreamServer = _TakingTurns  # what GeventWorker.run builds its listener from
            try:
                super().run()
            finally:
                _TakingTurns.board.close()
        else:
            super().run()


worker_class = TakingTurnsGeventWorker
worker_connections = int(os.environ.get("STOREFRONT_CONNECTIONS", "10000"))
# Read only by ``-k gthread``, the design before issue 10: one thread per open socket.
threads = int(os.environ.get("STOREFRONT_THREADS", "1100"))
preload_app = False
# Each open socket is a file descriptor: lift the soft limit to what the system allows.
_soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
if _hard == resource.RLIM_INFINITY or _soft < _hard:
    resource.setrlimit(resource.RLIMIT_NOFILE, (_hard, _hard))
workers = int(os.environ.get("STOREFRONT_WORKERS", os.cpu_count() or 1))
# HTTPS straight from gunicorn (the alternative: a TLS proxy in front and STOREFRONT_PROXY_HOPS).
if os.environ.get("STOREFRONT_TLS_CERT"):
    certfile = os.environ["STOREFRONT_TLS_CERT"]
    keyfile = os.environ.get("STOREFRONT_TLS_KEY", certfile)

# Keep-alive long enough for a page's burst of requests; timeouts generous for slow clients.
keepalive = 5
timeout = 60
graceful_timeout = 20
# The app writes its own access lines (JSON, without query strings, shoppers as keyed hashes).
accesslog = None
# gunicorn's runtime control socket is not used here, and every instance on a machine would
# share its default path ($HOME/.gunicorn/gunicorn.ctl): one instance fewer thing to manage.
control_socket_disable = True


def on_starting(server):
    """Before any worker exists: the folder where every worker keeps its metrics (summed by
    whichever worker answers /metrics). prometheus-client chooses file-backed values when it is
    first imported, which a worker does only after this (nothing here imports it at the top).
    A folder the operator names in PROMETHEUS_MULTIPROC_DIR is emptied of a previous run's
    files, but not of those a process still running writes to (a ``storefront worker`` given
    the same folder: its counts would vanish from the sums at every web restart); otherwise
    this server makes its own and removes it when it stops. (Here rather than in
    storefront/server.py: importing anything of storefront in the arbiter would load the whole
    app into it, before any worker's gevent patch.)"""
    given = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if given:
        os.makedirs(given, exist_ok=True)
        for name in os.listdir(given):
            if name.endswith(".db") and not _writer_running(name):
                os.unlink(os.path.join(given, name))
        server._storefront_metrics_dir = None
    else:
        made = tempfile.mkdtemp(prefix="storefront-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = made
        server._storefront_metrics_dir = made


def _writer_running(name):
    """Whether the process that writes a prometheus-client file (``counter_<pid>.db``,
    ``gauge_livesum_<pid>.db``) is running."""
    try:
        pid = int(name.removesuffix(".db").rsplit("_", 1)[1])
        os.kill(pid, 0)
    except (IndexError, ValueError, ProcessLookupError, OverflowError):
        return False
    except PermissionError:  # running, as another user
        return True
    return True


def when_ready(server):
    """A folder where the workers publish how many connections each holds (storefront/
    listener.py), made before the first worker forks and removed when the server stops."""
    folder = tempfile.mkdtemp(prefix="storefront-listeners-")
    os.environ["STOREFRONT_LISTENERS_DIR"] = folder
    server._storefront_listeners_dir = folder


def child_exit(server, worker):
    """In the arbiter, once a worker has gone: its open-sockets gauge no longer counts (its
    counters and histograms stay in the sums). Imported here, after the workers started: the
    client finds PROMETHEUS_MULTIPROC_DIR set whenever it is first imported."""
    listeners = getattr(server, "_storefront_listeners_dir", None)
    if listeners:  # a worker killed could not remove its file (storefront/listener.py)
        with contextlib.suppress(OSError):
            os.unlink(os.path.join(listeners, f"{worker.pid}.connections"))
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server):
    for made in (
        getattr(server, "_storefront_metrics_dir", None),
        getattr(server, "_storefront_listeners_dir", None),
    ):
        if made:
            shutil.rmtree(made, ignore_errors=True)


def post_worker_init(worker):
    """The app is loaded: compile its templates and tune the collector for it. On SIGTERM close
    open sockets first (code 1012: pages reconnect by themselves), so the worker does not sit
    out its graceful timeout waiting on idle sockets."""
    import signal

    from storefront import cooperative, realtime, server

    shop = server.is_shop(worker.wsgi)
    if shop:
        server.compile_templates(worker.wsgi)
    server.tune_garbage_collector()
    cooperative.wait_for_postgres_on_hub()
    if shop:
        server.start_jobs(worker.wsgi)

    stop = worker.handle_exit

    def close_then_stop(sig, frame):
        realtime.close_all(worker.wsgi)
        stop(sig, frame)

    if cooperative.patched():
        import gevent

        def handle_exit(sig, frame):
            # Out of the signal handler, as gunicorn's gevent worker does for its own signals:
            # the greenlet the signal interrupted may hold the registry's lock.
            gevent.spawn(close_then_stop, sig, frame)

    else:
        handle_exit = close_then_stop

    signal.signal(signal.SIGTERM, handle_exit)
