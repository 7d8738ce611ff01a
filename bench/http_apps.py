"""The baselines of ``bench/over_http.py``: tiny WSGI apps served by gunicorn beside the shop.

- ``bare_app()``: a bare Flask app. ``POST /`` (or ``/api/v1/cart/lines``) parses the JSON body and answers a small JSON
  object, ``GET /`` answers "ok". The bench serves it with the repository's gunicorn.conf.py,
  exactly like the shop (same worker class, workers, threads and GC tuning).
- ``insert_app()``: a bare Flask-SQLAlchemy app whose ``POST /`` (or ``/api/v1/cart/lines``) parses the JSON body and does
  one ORM INSERT and a commit; the database is ``BENCH_INSERT_DATABASE_URL``. On SQLite the
  connection gets the shop's own pragmas (WAL, synchronous=NORMAL, a busy timeout), so the
  baseline pays for the same durability. The bench creates the table before gunicorn starts.

Both answer ``/healthz`` (the bench waits for it) and echo a valid ``X-Request-Id``, as the shop
does, so the load client does the same work for every server.
"""

from __future__ import annotations

import os
import re

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
