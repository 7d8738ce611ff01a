"""Liveness and readiness for load balancers."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify
from sqlalchemy import text

from storefront import realtime
from storefront.extensions import db

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz():
    problems = []
    try:
        db.session.execute(text("SELECT 1"))
    except Exception:  # any failure to answer means not ready
        problems.append("database")
    finally:
        db.session.rollback()
    if current_app.config["REDIS_URL"] and not realtime.broker().healthy():
        problems.append("redis")
    if problems:
        return jsonify(status="unavailable", failing=problems), 503
    return jsonify(status="ok")
