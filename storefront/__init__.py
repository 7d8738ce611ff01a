"""storefront: a Flask shop whose cart never loses an item."""

from __future__ import annotations

import gc
import os
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from storefront import (
    config,
    database,
    errorpages,
    health,
    logs,
    realtime,
    security,
    sessions,
    startup,
    web,
)
from storefront.accounts.routes import bp as accounts_bp
from storefront.api.routes import bp as api_bp
from storefront.cart.routes import bp as cart_bp
from storefront.catalog.routes import bp as catalog_bp
from storefront.cli import register_commands
from storefront.extensions import csrf, db, login_manager, migrate, sock
from storefront.realtime.socket import bp as realtime_bp
from storefront.support.routes import bp as support_bp

ROOT = Path(__file__).resolve().parent.parent
MAX_BODY_BYTES = 64 * 1024


def create_app(overrides: Mapping[str, object] | None = None) -> Flask:
    """Build the app. ``overrides``: STOREFRONT_* variables (as text) and Flask config keys."""
    overrides = dict(overrides or {})
    env = {**os.environ, **{k: str(v) for k, v in overrides.items() if k.startswith("STOREFRONT_")}}
    app = Flask(
        __name__,
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
        instance_path=overrides.pop("INSTANCE_PATH", None) or str(ROOT / "instance"),
    )
    app.config.update(config.load(env, app.instance_path))
    app.config.update(
        MAX_CONTENT_LENGTH=MAX_BODY_BYTES,
        PERMANENT_SESSION_LIFETIME=timedelta(days=app.config["GUEST_CART_DAYS"]),
        SESSION_COOKIE_NAME="storefront",
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_REFRESH_EACH_REQUEST=False,
        SQLALCHEMY_ENGINE_OPTIONS={"pool_pre_ping": True},
        SQLALCHEMY_TRACK_MODIFICATIONS=False,
        WTF_CSRF_TIME_LIMIT=None,
        WTF_CSRF_HEADERS=["X-CSRF-Token", "X-CSRFToken"],
    )
    app.config.update({k: v for k, v in overrides.items() if not k.startswith("STOREFRONT_")})

    if app.config["PROXY_HOPS"]:
        hops = app.config["PROXY_HOPS"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_port=hops)
    app.session_interface = sessions.SecureWhenHttpsSessionInterface()

    db.init_app(app)
    with app.app_context():
        database.configure(db.engine)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"))
    login_manager.init_app(app)
    csrf.init_app(app)
    sock.init_app(app)
    security.init_app(app)
    logs.init_app(app)

    realtime.init_app(app)
    blueprints = (catalog_bp, cart_bp, accounts_bp, api_bp, health.bp, realtime_bp, support_bp)
    for blueprint in blueprints:
        app.register_blueprint(blueprint)
    errorpages.register(app)
    web.register_template_helpers(app)
    register_commands(app)
    startup.check_keys(app)
    tune_garbage_collector()
    return app


def tune_garbage_collector() -> None:
    """A change to a 1,000-line cart allocates thousands of small objects. With CPython's
    default thresholds, full collections over the whole heap then land inside requests: a p99
    of about 90 ms for an add, measured. What start-up built is frozen (never scanned again)
    and the old generations are collected much less often. The young generation stays small:
    at 50,000 objects one young collection took 21-49 ms, at 3,000 a few ms at most, with
    less time in collections overall (bench/cart_ops.py reports them, docs/PERFORMANCE.md)."""
    gc.freeze()
    gc.set_threshold(3_000, 20, 100)
