"""Prometheus metrics: what the shop counts and times, and ``GET /metrics``.

Under gunicorn every worker writes its values to files in ``PROMETHEUS_MULTIPROC_DIR``, which
gunicorn.conf.py prepares before any worker starts (prometheus-client picks file-backed values
when it is first imported, so the variable must be set by then); a scrape, whichever worker
answers it, sums all of them. Without that variable (``flask run``, the tests) the values live
in this process.

Labels only ever hold values from fixed sets: a URL rule's pattern (never the path asked for),
a method from HTTP's list, a status code, names of operations, providers, outcomes and email
kinds defined in the code. Anything else is counted under ``other``: no shopper data, SKU or
free text can make a new series.

The calls the rest of the code makes are one line each and cheap: a cart add pays a few
microseconds for its counters and timings (bench/metrics_cost.py, docs/PERFORMANCE.md).
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import os
import time
from contextvars import ContextVar
from dataclasses import dataclass, field

from flask import Blueprint, Flask, Response, current_app, g, has_request_context, jsonify, request
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client import multiprocess as prometheus_multiprocess
from prometheus_client.core import GaugeMetricFamily
from sqlalchemy import event
from sqlalchemy.orm import Session

from storefront import prepared

log = logging.getLogger("storefront.performance")
bp = Blueprint("metrics", __name__)

OTHER = "other"
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
CART_OPS = ("add", "set_quantity", "remove", "clear", "merge", "restore", "order")
ORDER_STATUSES = ("pending", "paid", "fulfilled", "cancelled", "refunded")
PAYMENT_PROVIDERS = ("manual", "test", "stripe")
# What a provider answered when asked to take a payment (and "unavailable": it could not be
# asked), or what its webhook later said.
PAYMENT_OUTCOMES = ("captured", "pending", "declined", "unavailable", "cancelled")
EMAIL_KINDS = ("order", "owner_new_order", "low_stock", "cart_reminder", "password_reset")
# sent; retrying (the server refused this time); failed (given up); dropped (no longer wanted:
# a reminder about a cart since ordered); not_queued (its address cannot carry a message)
EMAIL_OUTCOMES = ("sent", "retrying", "failed", "dropped", "not_queued")
DROP_REASONS = ("sibling_full", "redis_down", "socket_closed")
PENDING_TASKS = ("email", "order_expiry", "payment_settlement")
# The text format every Prometheus version reads (our names need none of 1.0.0's escaping).
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

FAST = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
REQUESTS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
DATABASE = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)

# The ``_created`` series are noise here (the multiprocess mode has none) and double the text.
disable_created_metrics()
REGISTRY = CollectorRegistry()

HTTP_SECONDS = Histogram(
    "storefront_http_request_duration_seconds",
    "Time to answer a request, by URL rule (the pattern, not the path), method and status.",
    ("route", "method", "status"),
    buckets=REQUESTS,
    registry=REGISTRY,
)
REQUEST_DB_SECONDS = Histogram(
    "storefront_request_db_seconds",
    "Time a request spent in database statements (cursor execute to result), by URL rule.",
    ("route",),
    buckets=DATABASE,
    registry=REGISTRY,
)
DB_STATEMENTS = Counter(
    "storefront_db_statements_total",
    "Database statements executed while answering requests.",
    registry=REGISTRY,
)
CART_CHANGES = Counter(
    "storefront_cart_changes_total",
    "Committed cart changes, by operation.",
    ("op",),
    registry=REGISTRY,
)
CART_SECONDS = Histogram(
    "storefront_cart_operation_seconds",
    "A cart change from its request's start (or its transaction's, outside requests) to its "
    "answer being ready, by operation.",
    ("op",),
    buckets=FAST,
    registry=REGISTRY,
)
CART_RETRIES = Counter(
    "storefront_cart_write_retries_total",
    "Cart changes written without the row lock (PostgreSQL) that found the cart changed "
    "meanwhile and were decided again under the lock.",
    registry=REGISTRY,
)
SLOW_CART = Counter(
    "storefront_cart_slow_operations_total",
    "Cart changes slower than STOREFRONT_SLOW_CART_MS (each is logged with its timings).",
    ("op",),
    registry=REGISTRY,
)
PUSH_SECONDS = Histogram(
    "storefront_push_seconds",
    "From a committed change's announcement to the write on each open page's socket.",
    buckets=FAST,
    registry=REGISTRY,
)
OPEN_SOCKETS = Gauge(
    "storefront_open_sockets",
    "Open pages' live connections (WebSockets, event streams, long polls), over every worker.",
    multiprocess_mode="livesum",
    registry=REGISTRY,
)
SOCKET_SENT = Counter(
    "storefront_socket_messages_sent_total",
    "Pushed messages written to open pages' sockets (keep-alive pings not counted).",
    registry=REGISTRY,
)
SOCKET_DROPPED = Counter(
    "storefront_socket_messages_dropped_total",
    "Pushed messages lost on the way (the pages catch up when they next revalidate), by reason.",
    ("reason",),
    registry=REGISTRY,
)
REDIS_RECONNECTS = Counter(
    "storefront_redis_reconnects_total",
    "Times the Redis subscriber came back after losing its connection.",
    registry=REGISTRY,
)
ORDERS = Counter(
    "storefront_orders_total",
    "Orders reaching each status (placed as pending or paid, then paid, fulfilled, ...).",
    ("status",),
    registry=REGISTRY,
)
PAYMENTS = Counter(
    "storefront_payments_total",
    "Payment providers' answers, by provider and outcome.",
    ("provider", "outcome"),
    registry=REGISTRY,
)
OUT_OF_STOCK = Counter(
    "storefront_out_of_stock_refusals_total",
    "Changes and orders refused because the stock would not cover them.",
    registry=REGISTRY,
)
EMAILS = Counter(
    "storefront_emails_total",
    "Emails by kind and what became of them.",
    ("kind", "outcome"),
    registry=REGISTRY,
)


class _Children(dict):
    """A labelled metric's children by label values: a dict look-up per request instead of
    ``labels()``'s lock and checks (labels() is idempotent, so a race only repeats it)."""

    def __init__(self, metric):
        super().__init__()
        self.metric = metric

    def __missing__(self, key: tuple[str, ...]):
        child = self[key] = self.metric.labels(*key)
        return child


_HTTP = _Children(HTTP_SECONDS)
_REQUEST_DB = _Children(REQUEST_DB_SECONDS)
_CART_SECONDS = _Children(CART_SECONDS)
_CART_CHANGES = _Children(CART_CHANGES)


def _known(value: str, allowed) -> str:
    return value if value in allowed else OTHER


def _start_at_zero() -> None:
    """Every series a dashboard or an alert looks for exists from start-up, at 0: a rate over
    a series that does not exist yet is no data, not zero."""
    for op in CART_OPS:
        CART_CHANGES.labels(op)
        CART_SECONDS.labels(op)
        SLOW_CART.labels(op)
    for status in ORDER_STATUSES:
        ORDERS.labels(status)
    for provider in PAYMENT_PROVIDERS:
        for outcome in PAYMENT_OUTCOMES:
            PAYMENTS.labels(provider, outcome)
    for kind in EMAIL_KINDS:
        for outcome in EMAIL_OUTCOMES:
            EMAILS.labels(kind, outcome)
    for reason in DROP_REASONS:
        SOCKET_DROPPED.labels(reason)
    # A route's series appears with its first request; the health check's is there from the
    # start, so the family is. (Every rule's series at zero cost each worker about a second
    # at start-up in the multiprocess mode, and made a scrape's text ten times longer.)
    HTTP_SECONDS.labels("/healthz", "GET", "200")


_start_at_zero()


# --- requests and their database time -----------------------------------------------------

# [seconds in statements, statements, start of the current one] for the request being served
# in this context (thread or greenlet); None outside requests (jobs, CLI).
_db_clock: ContextVar[list | None] = ContextVar("storefront_db_clock", default=None)


def _statement_starts(conn, cursor, statement, parameters, context, executemany) -> None:
    clock = _db_clock.get()
    if clock is not None:
        clock[2] = time.perf_counter()


def _statement_ends(conn, cursor, statement, parameters, context, executemany) -> None:
    clock = _db_clock.get()
    if clock is not None:
        clock[0] += time.perf_counter() - clock[2]
        clock[1] += 1


# Every engine's statements, prepared ones included (storefront/prepared.py).
prepared.listen_to_statements(_statement_starts, _statement_ends)


LIVE_ENDPOINTS = frozenset({"realtime.page_socket", "live.poll"})


def _request_started() -> None:
    _db_clock.set([0.0, 0, 0.0])
    _pending_cart.set(None)


def _request_answered(response: Response) -> Response:
    now = time.perf_counter()
    asked = request._get_current_object()
    if asked.endpoint in LIVE_ENDPOINTS:
        # Lasts as long as the page stays open, or until something happens (a long poll):
        # their time is not a latency. See storefront_open_sockets.
        return response
    rule = asked.url_rule
    route = rule.rule if rule is not None else "unmatched"
    started = g.get("started")
    if started is not None:
        method = _known(asked.method, METHODS)
        _HTTP[(route, method, str(response.status_code))].observe(now - started)
    clock = _db_clock.get()
    if clock is not None:
        _REQUEST_DB[(route,)].observe(clock[0])
        if clock[1]:
            DB_STATEMENTS.inc(clock[1])
        _db_clock.set(None)
    timing = _pending_cart.get()
    if timing is not None:
        _pending_cart.set(None)
        timing.finish(now, request_started=started)
    return response


# --- cart operations ----------------------------------------------------------------------


@dataclass(slots=True)
class CartTiming:
    """One cart change's steps, timed inside ``cart.store.write``: waiting for the locks, the
    decision, writing the rows, the commit; then, in a request, the rest of the answer."""

    started: float = field(default_factory=time.perf_counter)
    marks: list = field(default_factory=list)
    op: str = ""
    lines: int = 0

    def mark(self, step: str) -> None:
        self.marks.append((step, time.perf_counter()))

    def finish(self, now: float, *, request_started: float | None = None) -> None:
        start = self.started if request_started is None else min(request_started, self.started)
        total = now - start
        _CART_SECONDS[(self.op,)].observe(total)
        threshold = current_app.config["SLOW_CART_MS"] / 1000
        if total >= threshold:
            SLOW_CART.labels(self.op).inc()
            log.warning(
                "slow cart operation",
                extra={"fields": {"op": self.op, "ms": _ms(total), **self.steps(now, start)}},
            )

    def steps(self, now: float, start: float) -> dict[str, float]:
        """Each step's milliseconds; ``prepare``: the request before the transaction (parsing,
        the catalog look-up), ``respond``: after the commit (announcing, rendering)."""
        spent = {"prepare": self.started - start}
        before = self.started
        # A step can come twice (PostgreSQL's unlocked write, decided again under the lock):
        # its times add up.
        for step, at in self.marks:
            spent[step] = spent.get(step, 0.0) + at - before
            before = at
        spent["respond"] = now - before
        return {"lines": self.lines, **{f"{step}_ms": _ms(took) for step, took in spent.items()}}


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 2)


# A committed change waiting for its request's answer to be ready.
_pending_cart: ContextVar[CartTiming | None] = ContextVar("storefront_cart_timing", default=None)

_OP_NAMES = {
    "AddLine": "add",
    "SetQuantity": "set_quantity",
    "RemoveLine": "remove",
    "Clear": "clear",
    "MergeIn": "merge",
    "Replace": "restore",
    "TakeOrdered": "order",
}


def cart_timer() -> CartTiming:
    return CartTiming()


def cart_committed(timing: CartTiming, op: object, lines: int) -> None:
    """After a cart change's commit: count it; its time is taken when its answer is ready (in a
    request) or now."""
    if op is None:
        return  # nothing changed (a merge of an empty guest cart)
    timing.op = name = _OP_NAMES.get(type(op).__name__, OTHER)
    timing.lines = lines
    _CART_CHANGES[(name,)].inc()
    if has_request_context() and _db_clock.get() is not None:
        earlier = _pending_cart.get()
        if earlier is not None:  # two changes in one request: the first ends here
            earlier.finish(time.perf_counter())
        _pending_cart.set(timing)
    else:
        timing.finish(time.perf_counter())


# --- things counted once their transaction commits -----------------------------------------

_ON_COMMIT = "storefront.metrics"


def _after_commit(child) -> None:
    """Inside a transaction: ``child`` is incremented if, and when, it commits."""
    from storefront.extensions import db

    db.session.info.setdefault(_ON_COMMIT, []).append(child)


@event.listens_for(Session, "after_commit")
def _committed(session) -> None:
    for child in session.info.pop(_ON_COMMIT, ()):
        child.inc()


@event.listens_for(Session, "after_soft_rollback")
def _rolled_back(session, previous_transaction) -> None:
    # Any rollback, even of a transaction that had not reached the database yet (no savepoints
    # are used, so each is the whole transaction's).
    session.info.pop(_ON_COMMIT, None)


def order_status(status: str) -> None:
    """Inside the transaction that gives an order this status."""
    _after_commit(ORDERS.labels(_known(status, ORDER_STATUSES)))


def payment(provider: str, outcome: str) -> None:
    PAYMENTS.labels(
        _known(provider, PAYMENT_PROVIDERS), _known(str(outcome), PAYMENT_OUTCOMES)
    ).inc()


def email(kind: str, outcome: str) -> None:
    EMAILS.labels(_known(kind, EMAIL_KINDS), _known(outcome, EMAIL_OUTCOMES)).inc()


def refused(code: str) -> None:
    """A refusal answered (its error code): counts those for want of stock."""
    if code == "out_of_stock":
        OUT_OF_STOCK.inc()


# --- live pages ---------------------------------------------------------------------------


def socket_opened() -> None:
    OPEN_SOCKETS.inc()


def socket_closed() -> None:
    OPEN_SOCKETS.dec()


def pushed(since: float | None) -> None:
    """A pushed message was written to a socket; ``since``: when its change was announced
    (wall clock: it may have come from another process)."""
    SOCKET_SENT.inc()
    if since is not None:
        PUSH_SECONDS.observe(max(0.0, time.time() - since))


def dropped(reason: str) -> None:
    SOCKET_DROPPED.labels(_known(reason, DROP_REASONS)).inc()


def redis_reconnected() -> None:
    REDIS_RECONNECTS.inc()


# --- the scrape ---------------------------------------------------------------------------


class PendingJobs:
    """The background jobs' backlog, counted in the database when scraped: one answer for the
    whole shop, not a value per worker."""

    def __init__(self, app: Flask):
        self.app = app

    def describe(self):
        return []

    def collect(self):
        from storefront import jobs
        from storefront.extensions import db

        try:
            pending = jobs.pending()
        except Exception:
            # The database is away: every other metric is still served (that is when they are
            # wanted most); the backlog is missing rather than a made-up number.
            db.session.rollback()
            log.warning("metrics: the jobs' backlog could not be counted", exc_info=True)
            return
        family = GaugeMetricFamily(
            "storefront_jobs_pending",
            "Work waiting for the background jobs (emails to send, unpaid orders past their "
            "time, payment attempts to settle).",
            # Not "job": Prometheus gives every target a job label of its own.
            labels=("task",),
        )
        for task, count in pending.items():
            family.add_metric((_known(task, PENDING_TASKS),), count)
        yield family


def multiprocess_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


def exposition(app: Flask) -> bytes:
    registry = CollectorRegistry()
    folder = multiprocess_dir()
    if folder:
        prometheus_multiprocess.MultiProcessCollector(registry, path=folder)
    else:
        registry.register(_Forward(REGISTRY))
    registry.register(PendingJobs(app))
    return generate_latest(registry)


class _Forward:
    """This process's registry inside the scrape's own (which adds the jobs' backlog)."""

    def __init__(self, source: CollectorRegistry):
        self.source = source

    def describe(self):
        return []

    def collect(self):
        return self.source.collect()


def may_scrape() -> bool:
    """With STOREFRONT_METRICS_TOKEN: its bearer only. Without: the machine itself only (a
    forwarded client address when STOREFRONT_PROXY_HOPS trusts proxies in front)."""
    token = current_app.config["METRICS_TOKEN"]
    if token:
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(
            given.strip().encode(), token.encode()
        )
    return _loopback(request.remote_addr or "")


def _loopback(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    mapped = getattr(ip, "ipv4_mapped", None)
    return (mapped or ip).is_loopback


@bp.get("/metrics")
def scrape():
    if not may_scrape():
        message = (
            "Metrics need the scrape token (Authorization: Bearer)."
            if current_app.config["METRICS_TOKEN"]
            else "Metrics are served to this machine only (or set STOREFRONT_METRICS_TOKEN)."
        )
        error = {"code": "forbidden", "message": message}
        return jsonify(error=error), 403, {"X-Error-Code": "forbidden"}
    body = exposition(current_app)
    return Response(body, content_type=CONTENT_TYPE, headers={"Cache-Control": "no-store"})


def init_app(app: Flask) -> None:
    app.before_request(_request_started)
    app.after_request(_request_answered)
    app.register_blueprint(bp)
