"""storefront: a Flask shop whose cart never loses an item."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from flask import Flask

from storefront import (
    config,
    database,
    errorpages,
    health,
    logs,
    metrics,
    realtime,
    security,
    sessions,
    startup,
    web,
)
from storefront.accounts.reset_routes import bp as password_bp
from storefront.accounts.routes import bp as accounts_bp
from storefront.admin import api_bp as admin_api_bp
from storefront.admin import bp as admin_bp
from storefront.api.checkout import bp as checkout_api_bp
from storefront.api.routes import bp as api_bp
from storefront.cart import announce
from storefront.cart.routes import bp as cart_bp
from storefront.catalog import media, seo
from storefront.catalog.routes import bp as catalog_bp
from storefront.checkout.providers import registry as payment_providers
from storefront.checkout.routes import bp as checkout_bp
from storefront.cli import register_commands
from storefront.extensions import csrf, login_manager, sock
from storefront.handoff.routes import bp as handoff_bp
from storefront.mail.routes import bp as reminders_bp
from storefront.orders.routes import bp as orders_bp
from storefront.realtime.fallback import bp as live_bp
from storefront.realtime.socket import bp as realtime_bp
from storefront.saved.routes import bp as saved_bp
from storefront.sharing.routes import bp as sharing_bp
from storefront.shop_flask import Shop
from storefront.support.routes import bp as support_bp

ROOT = Path(__file__).resolve().parent.parent
BLUEPRINTS = (
    catalog_bp,
    cart_bp,
    accounts_bp,
    password_bp,
    api_bp,
    checkout_api_bp,
    checkout_bp,
    orders_bp,
    health.bp,
    realtime_bp,
    live_bp,
    support_bp,
    admin_bp,
    admin_api_bp,
    reminders_bp,
    sharing_bp,
    media.bp,
    seo.bp,
    handoff_bp,
    saved_bp,
)


def create_app(overrides: Mapping[str, object] | None = None) -> Flask:
    """Build the app. ``overrides``: STOREFRONT_* variables (as text) and Flask config keys."""
    overrides = dict(overrides or {})
    app = Shop(
        __name__,
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
        instance_path=overrides.pop("INSTANCE_PATH", None) or str(ROOT / "instance"),
    )
    app.config.update(config.for_app(overrides, app.instance_path))
    app.json.sort_keys = False  # keys as built: the documented order, and less work per line

    sessions.init_app(app)
    database.init_app(app, migrations=ROOT / "migrations")
    login_manager.init_app(app)
    csrf.init_app(app)
    sock.init_app(app)
    security.init_app(app)
    logs.init_app(app)
    realtime.init_app(app, listener=announce.listener)
    payment_providers.init_app(app)

    for blueprint in BLUEPRINTS:
        app.register_blueprint(blueprint)
    errorpages.register(app)
    web.register_template_helpers(app)
    media.register_template_helpers(app)
    seo.register_template_helpers(app)
    register_commands(app)
    metrics.init_app(app)
    startup.check_keys(app)
    return app
