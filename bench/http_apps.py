"""The baselines of ``bench/over_http.py`` and ``bench/push.py``: tiny WSGI apps served by
gunicorn beside the shop.

- ``bare_app()``: a bare Flask app. ``POST /`` (or ``/api/v1/cart/lines``) parses the JSON body and answers a small JSON
  object, ``GET /`` answers "ok". The bench serves it with the repository's gunicorn.conf.py,
  exactly like the shop (same worker class, workers, threads and GC tuning).
- ``insert_app()``: a bare Flask-SQLAlchemy app whose ``POST /`` (or ``/api/v1/cart/lines``) parses the JSON body and does
  one ORM INSERT and a commit; the database is ``BENCH_INSERT_DATABASE_URL``. On SQLite the
  connection gets the shop's own pragmas (WAL, synchronous=NORMAL, a busy timeout), so the
  baseline pays for the same durability. The bench creates the table before gunicorn starts.

- ``relay_app()``: the least a browser-to-browser push can be on this stack: Flask and
  flask-sock under the same gunicorn config (one worker, so both pages' sockets are in one
  process). ``GET /`` is a page with a count (``#cart-count``) and a button
  (``data-testid="add-to-cart"``); a click POSTs ``/relay`` with an XHR, which adds one to the
  count and hands the new count to every open page's socket; each page sets its count to what
  its socket says. No database, no template, no htmx. ``GET /arrivals``: when each ``/relay``
  request reached the app (epoch seconds), for the bench's breakdown.

All answer ``/healthz`` (the bench waits for it) and echo a valid ``X-Request-Id``, as the shop
does, so the load client does the same work for every server.
"""

from __future__ import annotations

import os
import queue
import re
import threading
import time

from flask import Flask, jsonify, request

REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


def _echo_request_id(app: Flask) -> None:
    @app.after_request
    def echo(response):
        given = request.headers.get("X-Request-Id", "")
        if REQUEST_ID.match(given):
            response.headers["X-Request-Id"] = given
        return response

    @app.get("/healthz")
    def healthz():
        return "ok"


def bare_app() -> Flask:
    app = Flask("bench_bare")
    _echo_request_id(app)

    @app.get("/")
    def index():
        return "ok"

    @app.post("/")
    @app.post("/api/v1/cart/lines")
    def post():
        body = request.get_json()
        return jsonify(ok=True, quantity=body.get("quantity")), 201

    return app


def insert_app() -> Flask:
    from flask_sqlalchemy import SQLAlchemy
    from sqlalchemy import Column, Integer, String, event

    app = Flask("bench_insert")
    app.config["SQLALCHEMY_DATABASE_URI"] = os.environ["BENCH_INSERT_DATABASE_URL"]
    db = SQLAlchemy(app)

    class Add(db.Model):
        __tablename__ = "bench_adds"
        id = Column(Integer, primary_key=True)
        sku = Column(String(40), nullable=False)
        quantity = Column(Integer, nullable=False)

    with app.app_context():
        if db.engine.dialect.name == "sqlite":

            @event.listens_for(db.engine, "connect")
            def pragmas(dbapi_connection, _record):
                cursor = dbapi_connection.cursor()
                for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "busy_timeout=30000"):
                    cursor.execute(f"PRAGMA {pragma}")
                cursor.close()

    _echo_request_id(app)

    @app.post("/")
    @app.post("/api/v1/cart/lines")  # the path the load's wrk script posts to
    def add():
        body = request.get_json()
        db.session.add(Add(sku=str(body["sku"]), quantity=int(body["quantity"])))
        db.session.commit()
        return jsonify(ok=True), 201

    app.extensions["bench_model"] = (db, Add)
    return app


def create_insert_table() -> None:
    """Run by the bench (once, before gunicorn starts): the table, and an empty one."""
    app = insert_app()
    db, _ = app.extensions["bench_model"]
    with app.app_context():
        db.drop_all()
        db.create_all()
        db.engine.dispose()


RELAY_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>relay</title></head>
<body><p>Items: <span id="cart-count" data-testid="cart-count">0</span></p>
<button type="button" data-testid="add-to-cart">Add</button>
<script>
const ws = new WebSocket(`ws://${location.host}/ws`);
ws.onopen = () => { document.body.dataset.connected = "1"; };
ws.onmessage = (event) => { document.getElementById("cart-count").textContent = event.data; };
document.querySelector("button").addEventListener("click", () => {
  const xhr = new XMLHttpRequest();
  xhr.open("POST", "/relay");
  xhr.send();
});
</script></body></html>"""


def relay_app() -> Flask:
    from flask_sock import Sock

    app = Flask("bench_relay")
    _echo_request_id(app)
    sock = Sock(app)
    inboxes: set[queue.Queue] = set()
    lock = threading.Lock()
    count = 0

    arrived: list[float] = []  # when each /relay request reached the app (time.time())
    inner = app.wsgi_app

    def stamp_arrival(environ, start_response):
        if environ.get("PATH_INFO") == "/relay":
            arrived.append(time.time())
        return inner(environ, start_response)

    app.wsgi_app = stamp_arrival

    @app.get("/")
    def page():
        return RELAY_PAGE

    @app.get("/arrivals")
    def arrivals():
        return jsonify(arrived)

    @app.post("/relay")
    def relay():
        nonlocal count
        with lock:
            count += 1
            message, targets = str(count), list(inboxes)
        for inbox in targets:
            inbox.put(message)
        time.sleep(0)  # under gevent, the sockets send before the answer, as the shop's do
        return message

    @sock.route("/ws")
    def socket(ws):
        inbox: queue.Queue = queue.Queue()  # gevent's own queue in gunicorn's gevent worker
        with lock:
            inboxes.add(inbox)
        try:
            while ws.connected:
                ws.send(inbox.get())
        finally:
            with lock:
                inboxes.discard(inbox)

    return app
