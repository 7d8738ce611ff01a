"""Structured logs: one JSON object a line, each with the request id.

What a line may hold is decided here: method, path (never the query string, where searches and
emails could sit), status, timing, and the shopper as a keyed hash. Request bodies, cookies,
tokens, emails and cart contents are never passed to a logger.
"""

from __future__ import annotations

import atexit
import itertools
import json
import logging
import logging.handlers
import os
import queue
import re
import secrets
import sys
import time

from flask import Flask, g, has_request_context, request

from storefront import security, shopper

REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
log = logging.getLogger("storefront.access")


def _entry(created: float, level: str, logger: str, message: str, fields: dict) -> dict:
    """A line's head fields, then the caller's: made here for both the formatter and the direct
    access line, so the two cannot drift apart."""
    return {
        "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(created)),
        "level": level,
        "logger": logger,
        "message": message,
        **fields,
    }


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = _entry(
            record.created,
            record.levelname.lower(),
            record.name,
            record.getMessage(),
            getattr(record, "fields", {}),
        )
        if has_request_context() and "request_id" not in entry:
            entry["request_id"] = g.get("request_id")  # ties an error to its access line
        if record.exc_info:
            # The whole traceback: an operator must be able to tell what failed. (Exceptions
            # hold no SQL parameters: the engine is set to hide them, see config.)
            trace = self.formatException(record.exc_info)
            entry["error"] = trace.splitlines()[-1]
            entry["traceback"] = trace
        return json.dumps(entry, default=str)


class _FormattedLines(logging.handlers.QueueHandler):
    """Queues each record as its finished line: the writer needs nothing else. (QueueHandler
    copies the whole record for a listener's handlers to format again: with the writer's own
    handler, about 3 % of a cart add for the access line, issue 10.)"""

    def prepare(self, record: logging.LogRecord) -> str:
        return self.format(record)


def _access(fields: dict) -> None:
    """Log a request's access line: the line the formatter would make, queued for the writer
    directly when that is the one place it would go. Logging's own path (a record, the caller's
    frame looked up, the handlers' locks) was half of the access line's cost, about 3 % of a
    cart add (issue 10). Anyone else listening (a handler added, a filter) gets it through
    logging as before."""
    lines = _writer_queue()
    if lines is None:
        log.info("request", extra={"fields": fields})
        return
    lines.put(json.dumps(_entry(time.time(), "info", log.name, "request", fields), default=str))


def _writer_queue() -> queue.SimpleQueue | None:
    if log.handlers or log.filters or not log.propagate or not log.isEnabledFor(logging.INFO):
        return None
    root = log.parent
    if root is None or root.filters or root.propagate or len(root.handlers) != 1:
        return None
    handler = root.handlers[0]
    if type(handler) is not _FormattedLines or handler.filters or handler.level > logging.INFO:
        return None
    return handler.queue


class _LineWriter(logging.handlers.QueueListener):
    def __init__(self, lines: queue.SimpleQueue, stream):
        super().__init__(lines)
        self.stream = stream

    def handle(self, line: str) -> None:
        try:
            self.stream.write(line + "\n")
            self.stream.flush()
        except (OSError, ValueError):  # stderr closed or gone: nowhere left to tell
            pass


def configure_logging() -> None:
    """Lines are formatted in the request's thread (they need its request id) and written by
    one thread of their own: a request never waits on stderr or on the other requests' writes
    (about a tenth of a loaded worker's time went to the handler's lock, profiled)."""
    root = logging.getLogger("storefront")
    root.setLevel(logging.INFO)
    root.propagate = False
    if any(isinstance(h.formatter, JsonFormatter) for h in root.handlers):
        return
    lines: queue.SimpleQueue = queue.SimpleQueue()
    handler = _FormattedLines(lines)
    handler.setFormatter(JsonFormatter())
    listener = _LineWriter(lines, sys.stderr)
    listener.start()
    atexit.register(listener.stop)  # what is queued is written before the process ends
    root.addHandler(handler)


def _shopper() -> str:
    # Logging a request must never make its sender a shopper (no cookie for a health check),
    # and probes need not even open the session.
    if request.blueprint in ("health", "metrics") or request.endpoint == "static":
        return ""
    owner = shopper.known_owner()
    return security.keyed_hash(owner.channel) if owner else ""


def _loggable_path() -> str:
    rule = request.url_rule
    return rule.rule if security.secret_address(rule) else request.path


class _RequestIds:
    """Ids unique across processes and instances without asking the OS for randomness on every
    request (``secrets.token_hex`` was 2 % of a cart add, issue 10): a random prefix per
    process, drawn again in a forked child, and a counter. They need not be unguessable."""

    def __init__(self) -> None:
        self.restart()
        os.register_at_fork(after_in_child=self.restart)

    def restart(self) -> None:
        self.prefix = secrets.token_hex(8)
        self.counter = itertools.count()

    def __call__(self) -> str:
        return f"{self.prefix}{next(self.counter) & 0xFFFFFFFF:08x}"


_new_request_id = _RequestIds()


def init_app(app: Flask) -> None:
    configure_logging()

    @app.before_request
    def start():
        given = request.headers.get("X-Request-Id", "")
        g.request_id = given if REQUEST_ID.match(given) else _new_request_id()
        g.started = time.perf_counter()

    @app.after_request
    def access_line(response):
        response.headers["X-Request-Id"] = g.get("request_id", "")
        if request.endpoint == "static":
            return response
        _access(
            {
                "request_id": g.get("request_id"),
                "method": request.method,
                "path": _loggable_path(),
                "status": response.status_code,
                "ms": round(
                    (time.perf_counter() - g.get("started", time.perf_counter())) * 1000, 1
                ),
                "shopper": _shopper(),
                "device": shopper.device(),
            }
        )
        return response
