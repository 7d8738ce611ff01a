"""gunicorn reads this from the repository root by itself; -b and -w on the command line win.

One worker per core (STOREFRONT_WORKERS to change it). Workers reach each other's open pages
through Redis when STOREFRONT_REDIS_URL is set, else through datagram sockets in the instance
folder (storefront/realtime/siblings.py): one machine needs nothing more. Worker model:
gthread, one thread per open socket (and per request in flight). Measured on 2 cores: 1,000
open sockets in one worker take 2,001 threads and about 160 MB, and plain requests stay fast
(docs/PERFORMANCE.md). Size STOREFRONT_THREADS to the open pages you expect per worker, plus
headroom for requests.
"""

import multiprocessing
import os
import resource

wsgi_app = "wsgi:app"
bind = [os.environ.get("STOREFRONT_BIND", "127.0.0.1:8000")]
worker_class = "gthread"
threads = int(os.environ.get("STOREFRONT_THREADS", "1100"))
worker_connections = 2 * threads
# Each open socket is a file descriptor: lift the soft limit to what the system allows.
_soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
if _hard == resource.RLIM_INFINITY or _soft < _hard:
    resource.setrlimit(resource.RLIMIT_NOFILE, (_hard, _hard))
workers = int(os.environ.get("STOREFRONT_WORKERS", multiprocessing.cpu_count()))
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


def post_worker_init(worker):
    """The app is loaded: tune the collector for it. On SIGTERM close open sockets first (code
    1012: pages reconnect by themselves), so the worker does not sit out its graceful timeout
    waiting on idle sockets."""
    import signal

    from storefront import realtime, server

    server.tune_garbage_collector()

    stop = worker.handle_exit

    def handle_exit(sig, frame):
        realtime.close_all(worker.wsgi)
        stop(sig, frame)

    signal.signal(signal.SIGTERM, handle_exit)
