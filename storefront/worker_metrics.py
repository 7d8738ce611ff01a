"""``storefront worker --metrics HOST:PORT``: the worker process's own ``GET /metrics``.

A worker run apart from the web (``STOREFRONT_WEB_JOBS=false``) counts what it does, the emails
it sends and the orders it expires, in its own memory; the web's /metrics sums only the web's
processes, so without this nothing served those counts. Prometheus scrapes this as one more
target, and sums the counters of both.
"""

from __future__ import annotations

import threading

from flask import Flask
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from storefront import metrics


def listen_address(text: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[::1]:9101`` for IPv6) as a host and a port; ValueError if it is not."""
    host, colon, port = text.strip().rpartition(":")
    host = host.removeprefix("[").removesuffix("]")
    if not colon or not host or not port.isdigit() or int(port) > 65535:
        raise ValueError(f"{text!r} is not HOST:PORT (say 127.0.0.1:9101)")
    return host, int(port)


class _Quiet(WSGIRequestHandler):
    """No line per scrape on the worker's output: it would bury the jobs' own."""

    def log_request(self, *args) -> None:
        pass


class SharedFolder(Exception):
    """The worker's values already go to the web's metrics folder."""


def url(server: BaseWSGIServer) -> str:
    host = f"[{server.host}]" if ":" in server.host else server.host
    return f"http://{host}:{server.port}/metrics"


def serve(app: Flask, address: str) -> BaseWSGIServer:
    """``GET /metrics`` of this process on ``address``, from a thread, under the web's rules
    (the scrape token, or this machine only); any other path is a 404. Nothing stands in front
    of this port, so forwarded-for headers are dropped: with STOREFRONT_PROXY_HOPS set they
    would otherwise be believed, and a client could claim to be this machine."""
    host, port = listen_address(address)
    if metrics.multiprocess_dir():
        # This process then writes its values into that folder, which the web's /metrics sums,
        # and its own answer would be the folder's sum too: scraped twice, counted twice.
        raise SharedFolder(
            "PROMETHEUS_MULTIPROC_DIR is set, so the web's /metrics already counts this "
            "worker; leave out --metrics (or that variable, from the worker's environment)"
        )
    shop = app.wsgi_app

    def only_metrics(environ, start_response):
        if environ.get("PATH_INFO") != "/metrics":
            start_response("404 NOT FOUND", [("Content-Type", "text/plain; charset=utf-8")])
            return [b"Only /metrics is served here.\n"]
        for name in [name for name in environ if name.startswith("HTTP_X_FORWARDED_")]:
            del environ[name]
        environ.pop("HTTP_FORWARDED", None)
        return shop(environ, start_response)

    server = make_server(host, port, only_metrics, threaded=True, request_handler=_Quiet)
    threading.Thread(target=server.serve_forever, name="worker-metrics", daemon=True).start()
    return server
