"""The shopper's cookie: Flask's signed session, ``Secure`` exactly when served over HTTPS,
which trusted proxies in front may tell.

Two things Flask's cookie session does on every request cost a cart change about a tenth of its
CPU (issue 10), and neither changes what a shopper gets:

- it verifies the signature of a cookie it verified a moment ago (a shopper's page sends the
  same cookie with every request): a verified cookie's content is remembered, keyed by the
  cookie's exact text, and only its age is checked again;
- every cart change renews the cookie (it lives ``GUEST_CART_DAYS`` after the last change), so
  Flask signed a new one for every change. A cookie whose content is unchanged is now signed
  again only once it is ``SESSION_RENEW_AFTER`` old (a minute): its expiry still follows the
  last change, to within that minute.
"""

from __future__ import annotations

import functools
import time
from datetime import timedelta

from flask import Flask, request
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from itsdangerous import BadSignature, URLSafeTimedSerializer
from werkzeug.middleware.proxy_fix import ProxyFix

RENEW_AFTER = timedelta(minutes=1)
# Cookies remembered per set of keys: a shopper's cookie changes at most once a minute, so this
# covers thousands of shoppers at once; an unknown cookie is simply verified again.
REMEMBERED_COOKIES = 8192


def init_app(app: Flask) -> None:
    hops = app.config["PROXY_HOPS"]
    if hops:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_port=hops)
    app.config.setdefault("SESSION_RENEW_AFTER", RENEW_AFTER)
    app.session_interface = SecureWhenHttpsSessionInterface()


class SignedSession(SecureCookieSession):
    """A session that knows what its cookie held and when that was signed (None: no cookie),
    and whether its content was set since (``renew`` alone asks for a new expiry)."""

    signed_at: int | None = None
    opened_as: str | None = None
    # Set by any change made through the session's own methods (Flask's tracking). A nested
    # value changed in place is not seen: set its key again afterwards (``modified`` alone,
    # as Flask suggests, would be taken for a renewal in a request that also calls ``renew``).
    content_set = False
    only_renewed = False

    def __init__(self, initial=None) -> None:
        def on_update(session: SignedSession) -> None:
            session.modified = session.content_set = True

        super().__init__(initial)
        self.on_update = on_update

    def renew(self) -> None:
        """Sign the cookie again for a new expiry (within ``SESSION_RENEW_AFTER``)."""
        if not self.permanent:
            self.permanent = True
        self.modified = self.only_renewed = True


class _Signing:
    """The signer for one set of keys, and the cookies it has verified."""

    def __init__(self, serializer: URLSafeTimedSerializer):
        self.serializer = serializer
        self.verified = functools.lru_cache(maxsize=REMEMBERED_COOKIES)(self._verify)

    def _verify(self, cookie: str) -> tuple[str, int, dict | None]:
        """The cookie's content (as the JSON it was signed from), when it was signed, and the
        content itself if it holds only plain values (None: load it afresh from the JSON for
        each request, a nested value could be changed in place); raises BadSignature. Its age is
        the caller's to check: it grows while the entry is kept."""
        data, signed_at = self.serializer.loads(cookie, return_timestamp=True)
        plain = all(type(value) in _PLAIN for value in data.values())
        return (
            self.serializer.serializer.dumps(data),
            int(signed_at.timestamp()),
            data if plain else None,
        )


# What a session may hold and be opened again from a copy of the remembered content.
_PLAIN = frozenset({str, int, float, bool, type(None)})


class SecureWhenHttpsSessionInterface(SecureCookieSessionInterface):
    session_class = SignedSession

    def __init__(self) -> None:
        self._signing: dict[tuple, _Signing | None] = {}

    def get_cookie_secure(self, app: Flask) -> bool:
        # request.is_secure already honours X-Forwarded-Proto from trusted proxies (ProxyFix).
        return request.is_secure or bool(app.config["SESSION_COOKIE_SECURE"])

    def _signing_for(self, app: Flask) -> _Signing | None:
        # Flask builds a new serializer twice a request (open and save), and building one
        # serialises a probe value to learn its kind: about 2 % of a cart add (issue 10). One
        # per set of keys instead; rotating SECRET_KEY (with its fallbacks) makes a new one,
        # and forgets the cookies verified with the old keys.
        keys = (app.secret_key, tuple(app.config["SECRET_KEY_FALLBACKS"] or ()))
        if keys not in self._signing:
            serializer = super().get_signing_serializer(app)
            self._signing[keys] = None if serializer is None else _Signing(serializer)
        return self._signing[keys]

    def get_signing_serializer(self, app: Flask) -> URLSafeTimedSerializer | None:
        signing = self._signing_for(app)
        return None if signing is None else signing.serializer

    def open_session(self, app: Flask, request) -> SignedSession | None:
        signing = self._signing_for(app)
        if signing is None:
            return None
        cookie = request.cookies.get(self.get_cookie_name(app))
        if not cookie:
            return self.session_class()
        try:
            opened_as, signed_at, plain = signing.verified(cookie)
        except BadSignature:
            return self.session_class()
        # As itsdangerous checks it: too old, or signed in this clock's future, opens nothing.
        age = int(time.time()) - signed_at
        if not 0 <= age <= app.permanent_session_lifetime.total_seconds():
            return self.session_class()
        # A session is a dictionary of its own (a copy of plain values): what a request sets in
        # it never reaches the remembered content. Parsing the JSON again was 1 % of an add.
        session = self.session_class(
            plain if plain is not None else self.serializer.loads(opened_as)
        )
        session.opened_as, session.signed_at = opened_as, signed_at
        return session

    def should_set_cookie(self, app: Flask, session: SignedSession) -> bool:
        if not super().should_set_cookie(app, session):
            return False
        if session.opened_as is None:
            return True
        fresh = (
            int(time.time()) - session.signed_at < app.config["SESSION_RENEW_AFTER"].total_seconds()
        )
        if not fresh:
            return True
        if session.only_renewed and not session.content_set:
            return False  # only a renewal was asked for, and the content is as opened: not yet
        # The content is what the cookie holds (set to the same values): not yet either.
        return self.serializer.dumps(dict(session)) != session.opened_as
