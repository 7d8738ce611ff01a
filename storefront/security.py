"""Security headers and rate limits, set up by well-kept libraries."""

from __future__ import annotations

import functools
import hashlib
import hmac
import threading
import time

from flask import Flask, Response, current_app, request
from flask_limiter import Limiter
from flask_talisman import Talisman
from limits.storage import Storage

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
PASSWORD_RESET_LIMIT = "5/minute;20/hour"


class FixedHeadersTalisman(Talisman):
    """Talisman, with the headers it sets worked out once for each view and scheme.

    Here they depend on nothing else: no nonces, no HTTPS redirect, per-view options fixed when
    the view is declared. Talisman works them out anew for every response (the policy parsed
    from its dict, the view's options merged), which cost about 3 % of a cart add (issue 10).
    """

    def __init__(self) -> None:
        super().__init__()
        self._headers_for: dict[tuple, list[tuple[str, str]]] = {}

    def init_app(self, app: Flask, **options) -> None:
        super().init_app(app, **options)
        self._headers_for.clear()
        if self.content_security_policy_nonce_in or self.force_https:
            raise ValueError("FixedHeadersTalisman takes no nonces and no HTTPS redirect")

    def _make_nonce(self):
        pass  # no nonces (refused above)

    def _force_https(self):
        # Nothing to do without force_https (refused above) or session_cookie_secure; a view
        # may not turn it on (checked when its headers are first worked out).
        if self.session_cookie_secure:
            return super()._force_https()
        return None

    def _set_response_headers(self, response):
        secure = request.is_secure or request.headers.get("X-Forwarded-Proto") == "https"
        key = (request.endpoint, secure)
        headers = self._headers_for.get(key)
        if headers is None:
            options = self._get_local_options()
            if options["force_https"] or options["content_security_policy_nonce_in"]:
                raise ValueError(f"{request.endpoint}: no HTTPS redirect or nonce per view here")
            blank = Response()
            before = set(blank.headers.keys())
            super()._set_response_headers(blank)
            headers = [(k, v) for k, v in blank.headers.items() if k not in before]
            self._headers_for[key] = headers
        for name, value in headers:
            response.headers[name] = value
        return response


talisman = FixedHeadersTalisman()


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


class LocalCounters(Storage):
    """Fixed-window counters in this process's memory, for when there is no Redis: what
    ``memory://`` counts, without its expiry thread. ``limits``' memory storage starts a timer
    thread to expire counters whenever the last one has ended, up to a hundred a second under
    load, and walks every counter each time; here a counter found expired is simply started
    afresh, and stale ones are swept at most once a minute."""

    STORAGE_SCHEME = ["storefront-memory"]
    SWEEP_SECONDS = 60.0

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False, **options):
        self._counts: dict[str, int] = {}
        self._expiries: dict[str, float] = {}
        self._lock = threading.Lock()
        self._next_sweep = time.time() + self.SWEEP_SECONDS
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)

    @property
    def base_exceptions(self):
        return ValueError

    def _live(self, key: str, now: float) -> int:
        if self._expiries.get(key, 0.0) <= now:
            self._counts.pop(key, None)
            self._expiries.pop(key, None)
            return 0
        return self._counts[key]

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        now = time.time()
        with self._lock:
            if now >= self._next_sweep:
                for stale in [k for k, at in self._expiries.items() if at <= now]:
                    del self._counts[stale], self._expiries[stale]
                self._next_sweep = now + self.SWEEP_SECONDS
            count = self._counts[key] = self._live(key, now) + amount
            if count == amount:  # a new window starts with this hit
                self._expiries[key] = now + expiry
            return count

    def decr(self, key: str, amount: int = 1) -> int:
        with self._lock:
            count = self._counts[key] = max(self._live(key, time.time()) - amount, 0)
            return count

    def get(self, key: str) -> int:
        with self._lock:
            return self._live(key, time.time())

    def get_expiry(self, key: str) -> float:
        return self._expiries.get(key, time.time())

    def check(self) -> bool:
        return True

    def reset(self) -> int | None:
        with self._lock:
            count = len(self._counts)
            self._counts.clear()
            self._expiries.clear()
            return count

    def clear(self, key: str) -> None:
        with self._lock:
            self._counts.pop(key, None)
            self._expiries.pop(key, None)


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
    app.config.setdefault("RATELIMIT_STORAGE_URI", redis_url or "storefront-memory://")
    app.config.setdefault("RATELIMIT_KEY_PREFIX", f"{app.config['REDIS_PREFIX']}:limits")
    # X-RateLimit-* and Retry-After only on a refusal (errorpages, ``refused_headers``): on every
    # answer they cost two more look-ups of the counter (two Redis round trips per cart change,
    # about 5 % of an add on PostgreSQL, issue 10).
    app.config.setdefault("RATELIMIT_HEADERS_ENABLED", False)
    # If Redis is away, count in this process rather than fail the shopper's request.
    app.config.setdefault("RATELIMIT_IN_MEMORY_FALLBACK_ENABLED", True)
    app.config.setdefault("RATELIMIT_SWALLOW_ERRORS", True)
    limiter.init_app(app)
    _skip_check_before_every_request(app)


def _skip_check_before_every_request(app: Flask) -> None:
    """flask-limiter checks every request, before its view, for limits set app-wide or on a
    whole blueprint; the shop sets none (every limit is on its view, checked there), so that
    check counted nothing, at about 2 % of a cart add (issue 10). It stays if any is set."""
    manager = limiter.limit_manager
    if manager.default_limits or manager.application_limits or manager._blueprint_limits:
        return
    app.before_request_funcs[None].remove(limiter._check_request_limit)


def refused_headers() -> dict[str, str]:
    """For a 429: when the shopper may try again (``Retry-After``, seconds) and the limit that
    was reached (``X-RateLimit-*``, as flask-limiter names them)."""
    breached = limiter.current_limit
    if breached is None:
        return {}
    try:
        reset_at = int(breached.reset_at)
    except Exception:  # the counters' store is away: say nothing rather than fail the refusal
        return {}
    return {
        "Retry-After": str(max(1, reset_at - int(time.time()))),
        "X-RateLimit-Limit": str(breached.limit.amount),
        "X-RateLimit-Remaining": "0",
        "X-RateLimit-Reset": str(reset_at),
    }


def keyed_hash(value: str) -> str:
    """Names a shopper in logs without revealing who: keyed, so it cannot be looked up."""
    return _keyed_hash(current_app.config["SECRET_KEY"], value)


@functools.lru_cache(maxsize=4096)
def _keyed_hash(secret: str, value: str) -> str:
    # Every request's access line names its shopper, and the same shoppers come back.
    return hmac.new(secret.encode(), value.encode(), hashlib.sha256).hexdigest()[:16]
