"""Security headers and rate limits, set up by well-kept libraries."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import hmac
import logging
import threading
import time

from flask import Flask, Response, current_app, g, request
from flask.globals import request_ctx
from flask_limiter import Limiter
from flask_talisman import Talisman
from limits import parse_many
from limits.storage import RedisClusterStorage, RedisStorage, Storage
from limits.strategies import FixedWindowRateLimiter
from werkzeug.exceptions import TooManyRequests
from werkzeug.routing import Rule

from storefront import shopper

log = logging.getLogger(__name__)

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
    """Talisman, with the headers it sets worked out once for each view, URL rule and scheme.

    Here they depend on nothing else (the rule only for a secret address, below): no nonces,
    no HTTPS redirect, per-view options fixed when the view is declared. Talisman works them
    out anew for every response (the policy parsed from its dict, the view's options merged),
    which cost about 3 % of a cart add (issue 10).
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
        rule = request.url_rule
        key = (request.endpoint, rule.rule if rule is not None else None, secure)
        headers = self._headers_for.get(key)
        if headers is None:
            options = self._get_local_options()
            if options["force_https"] or options["content_security_policy_nonce_in"]:
                raise ValueError(f"{request.endpoint}: no HTTPS redirect or nonce per view here")
            blank = Response()
            before = set(blank.headers.keys())
            super()._set_response_headers(blank)
            if secret_address(rule):
                blank.headers["Referrer-Policy"] = SECRET_ADDRESS_REFERRER_POLICY
            headers = [(k, v) for k, v in blank.headers.items() if k not in before]
            self._headers_for[key] = headers
        for name, value in headers:
            response.headers[name] = value
        return response


talisman = FixedHeadersTalisman()

# Address parts that are secrets in themselves (a reset link's token, a reminder's or an
# unsubscribe link's signature, a handoff code that opens a cart for ten minutes, a sharing
# link): the access log shows the route's pattern instead (logs.py), and the page sends only
# the shop's origin as a Referer, so the address goes with no other request than its own (not
# with the page's static files, its own requests, or a link followed from it). Not
# "no-referrer": over HTTPS the CSRF check (flask-wtf's strict one) refuses a form posted
# without a Referer of the shop's origin, so the page's own buttons would fail.
SECRET_PARTS = ("token", "code")
SECRET_ADDRESS_REFERRER_POLICY = "strict-origin"


def secret_address(rule: Rule | None) -> bool:
    """Whether the address of a request for ``rule`` holds a secret."""
    return rule is not None and any(name in rule.arguments for name in SECRET_PARTS)


def shopper_key() -> str:
    """Rate limits count per shopper: the account, or the guest's cookie."""
    return shopper.current_owner().channel


limiter = Limiter(key_func=shopper_key)


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


class ShopperLimit:
    """One limit shared by a set of views, per shopper: a decorator, as flask-limiter's
    ``shared_limit``, counted by ``limits`` (flask-limiter's own engine) directly.

    For every request flask-limiter works out afresh which limits apply (the view's, its
    blueprint's, the defaults, exemptions) and parses the limit's text again: about 7 % of a
    cart add's CPU, for what is one fixed limit per shopper on the shop's busiest views (issue
    10). This counts it in flask-limiter's strategy and storage, under the very keys
    flask-limiter gives a shared limit, so the two agree. Storage away (Redis): counted in
    this process for DOWN_SECONDS, then tried again; refused with a 429 that says when to
    retry (``refused_headers``)."""

    DOWN_SECONDS = 5.0

    def __init__(self, config_key: str, scope: str):
        self.config_key = config_key
        self.scope = scope

    def __call__(self, view):
        @functools.wraps(view)
        def limited(*args, **kwargs):
            self.hit()
            return view(*args, **kwargs)

        return limited

    def hit(self) -> None:
        app = current_app._get_current_object()
        if not app.config.get("RATELIMIT_ENABLED", True):
            return
        key = (app.config["RATELIMIT_KEY_PREFIX"], shopper_key(), self.scope)
        items = _parsed(app.config[self.config_key])
        fallback = app.extensions["storefront.local_limits"]
        counter = fallback if time.monotonic() < fallback.down_until else limiter.limiter
        try:
            refused = _first_refused(counter, items, key)
        except Exception as exc:
            fallback.down_until = time.monotonic() + self.DOWN_SECONDS
            log.warning("rate limits: storage unavailable (%s)", type(exc).__name__)
            counter = fallback
            refused = _first_refused(counter, items, key)
        if refused is not None:
            # When to try again; the counters' store failing just now only leaves it untold.
            with contextlib.suppress(Exception):
                g.refused_by = (refused, counter.get_window_stats(refused, *key).reset_time)
            raise TooManyRequests()


def _first_refused(counter, items: tuple, key: tuple[str, ...]):
    """Hit each limit in turn until one refuses (it is returned; None if all allow), as
    flask-limiter does. On Redis, every limit in one round trip (``_HIT_IN_TURN``)."""
    storage = getattr(counter, "storage", None)
    if (
        len(items) > 1
        and type(counter) is FixedWindowRateLimiter
        and isinstance(storage, RedisStorage)
        and not isinstance(storage, RedisClusterStorage)  # the keys may lie on other nodes
    ):
        keys = [storage.prefixed_key(item.key_for(*key)) for item in items]
        windows = [value for item in items for value in (item.get_expiry(), item.amount)]
        refused = int(_hit_in_turn(storage)(keys, windows))
        return items[refused - 1] if refused else None
    for item in items:
        if not counter.hit(item, *key):
            return item
    return None


# What limits' fixed window does for one hit of one limit (INCRBY, and EXPIRE when the hit
# starts a window), for each limit in turn until one refuses: the shop's default cart limit is
# two limits, each a round trip of its own to Redis, a twentieth of a cart change's CPU
# (issue 10). KEYS: the counters; ARGV: each limit's window in seconds and amount.
_HIT_IN_TURN = """
for i, key in ipairs(KEYS) do
    local count = redis.call('INCRBY', key, 1)
    if count == 1 then
        redis.call('EXPIRE', key, ARGV[2 * i - 1])
    end
    if count > tonumber(ARGV[2 * i]) then
        return i
    end
end
return 0
"""


@functools.lru_cache(maxsize=8)
def _hit_in_turn(storage: RedisStorage):
    # Sent by its digest (EVALSHA); loaded again if Redis has forgotten it.
    return storage.get_connection().register_script(_HIT_IN_TURN)


class _LocalFallback(FixedWindowRateLimiter):
    """Counts in this process while the app's store (Redis) is away, until ``down_until``."""

    def __init__(self):
        super().__init__(LocalCounters())
        self.down_until = 0.0


@functools.lru_cache(maxsize=32)
def _parsed(limits_text: str) -> tuple:
    # Smallest window first, as flask-limiter orders them: the first refusal is the one told.
    return tuple(sorted(parse_many(limits_text)))


cart_changes = ShopperLimit("CART_RATE_LIMIT", scope="cart-changes")


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
    after, teardown = list(app.after_request_funcs[None]), list(app.teardown_request_funcs[None])
    limiter.init_app(app)
    app.extensions["storefront.local_limits"] = _LocalFallback()
    _skip_check_before_every_request(app)
    _hooks_only_where_limits_were_checked(
        app,
        added_after=[f for f in app.after_request_funcs[None] if f not in after],
        added_teardown=[f for f in app.teardown_request_funcs[None] if f not in teardown],
    )


def _skip_check_before_every_request(app: Flask) -> None:
    """flask-limiter checks every request, before its view, for limits set app-wide or on a
    whole blueprint; the shop sets none (every limit is on its view, checked there), so that
    check counted nothing, at about 2 % of a cart add (issue 10). It stays if any is set."""
    manager = limiter.limit_manager
    if manager.default_limits or manager.application_limits or manager._blueprint_limits:
        return
    app.before_request_funcs[None].remove(limiter._check_request_limit)


# Where flask-limiter keeps a request's state (its checked limits, pending deductions): on the
# request context, made the first time it is asked for.
LIMITER_STATE = "_limiter_request_context"


def _hooks_only_where_limits_were_checked(app: Flask, added_after: list, added_teardown: list):
    """flask-limiter's after-request hook (its conditional deductions and headers) and its
    teardown run on every request, and each first makes the request's limiter state to look
    in. Where no flask-limiter limit was checked (every cart change: ShopperLimit counts those)
    there is none, so both made one only to find nothing in it: 54 of a cart add's 3,192 Python
    calls in process (bench/per_request.py, issue 10; over HTTP below the noise). They now run
    only where that state exists, which is where they can do anything."""

    def after_if_checked(hook):
        @functools.wraps(hook)
        def after(response):
            return hook(response) if hasattr(request_ctx, LIMITER_STATE) else response

        return after

    def teardown_if_checked(hook):
        @functools.wraps(hook)
        def teardown(error):
            if hasattr(request_ctx, LIMITER_STATE):
                hook(error)

        return teardown

    for hooks, added, wrap in (
        (app.after_request_funcs[None], added_after, after_if_checked),
        (app.teardown_request_funcs[None], added_teardown, teardown_if_checked),
    ):
        for hook in added:
            hooks[hooks.index(hook)] = wrap(hook)


def refused_headers() -> dict[str, str]:
    """For a 429: when the shopper may try again (``Retry-After``, seconds) and the limit that
    was reached (``X-RateLimit-*``, as flask-limiter names them)."""
    refused_by = g.get("refused_by")  # a ShopperLimit's
    if refused_by is not None:
        item, reset_at = refused_by
        reset_at = int(reset_at)
    else:
        breached = limiter.current_limit
        if breached is None:
            return {}
        try:
            item, reset_at = breached.limit, int(breached.reset_at)
        except Exception:  # the counters' store is away: say nothing rather than fail it
            return {}
    return {
        "Retry-After": str(max(1, reset_at - int(time.time()))),
        "X-RateLimit-Limit": str(item.amount),
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
