"""Security headers and rate limits, set up by well-kept libraries."""

from __future__ import annotations

import hashlib
import hmac

from flask import Flask, current_app, request
from flask_limiter import Limiter
from flask_talisman import Talisman

from storefront import shopper

# No inline script anywhere: htmx and our modules are files, so 'self' is the whole policy.
CONTENT_SECURITY_POLICY = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": "'self' data:",
    "connect-src": "'self'",
    "form-action": "'self'",
    "base-uri": "'self'",
    "frame-ancestors": "'none'",
    "object-src": "'none'",
}
SIGN_IN_LIMIT = "10/minute;50/hour"
REGISTER_LIMIT = "5/minute;20/hour"

talisman = Talisman()


def shopper_key() -> str:
    """Rate limits count per shopper: the account, or the guest's cookie."""
    return shopper.current_owner().channel


limiter = Limiter(key_func=shopper_key)
cart_changes = limiter.shared_limit(
    lambda: current_app.config["CART_RATE_LIMIT"], scope="cart-changes"
)
# Against card testing: completions per shopper, pages and API together.
checkout_completions = limiter.shared_limit(
    lambda: current_app.config["CHECKOUT_RATE_LIMIT"], scope="checkout-completions"
)


def client_address() -> str:
    # ProxyFix has already replaced remote_addr with the client's, behind trusted proxies only.
    return request.remote_addr or "unknown"


def init_app(app: Flask) -> None:
    talisman.init_app(
        app,
        force_https=False,  # TLS is gunicorn's or the proxy's job; we only say what we are
        session_cookie_secure=False,  # Secure exactly when served over HTTPS: see sessions.py
        strict_transport_security=True,
        strict_transport_security_max_age=31_536_000,
        content_security_policy=CONTENT_SECURITY_POLICY,
        frame_options="DENY",
        referrer_policy="strict-origin-when-cross-origin",
    )
    redis_url = app.config["REDIS_URL"]
    app.config.setdefault("RATELIMIT_STORAGE_URI", redis_url or "memory://")
    app.config.setdefault("RATELIMIT_KEY_PREFIX", f"{app.config['REDIS_PREFIX']}:limits")
    app.config.setdefault("RATELIMIT_HEADERS_ENABLED", True)
    # If Redis is away, count in this process rather than fail the shopper's request.
    app.config.setdefault("RATELIMIT_IN_MEMORY_FALLBACK_ENABLED", True)
    app.config.setdefault("RATELIMIT_SWALLOW_ERRORS", True)
    limiter.init_app(app)


def keyed_hash(value: str) -> str:
    """Names a shopper in logs without revealing who: keyed, so it cannot be looked up."""
    key = current_app.config["SECRET_KEY"].encode()
    return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()[:16]
