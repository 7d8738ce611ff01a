"""The shopper's cookie: Flask's signed session, ``Secure`` exactly when served over HTTPS,
which trusted proxies in front may tell."""

from __future__ import annotations

from flask import Flask, request
from flask.sessions import SecureCookieSessionInterface
from itsdangerous import URLSafeTimedSerializer
from werkzeug.middleware.proxy_fix import ProxyFix


def init_app(app: Flask) -> None:
    hops = app.config["PROXY_HOPS"]
    if hops:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_port=hops)
    app.session_interface = SecureWhenHttpsSessionInterface()


class SecureWhenHttpsSessionInterface(SecureCookieSessionInterface):
    def __init__(self) -> None:
        self._serializers: dict[tuple, URLSafeTimedSerializer | None] = {}

    def get_cookie_secure(self, app: Flask) -> bool:
        # request.is_secure already honours X-Forwarded-Proto from trusted proxies (ProxyFix).
        return request.is_secure or bool(app.config["SESSION_COOKIE_SECURE"])

    def get_signing_serializer(self, app: Flask) -> URLSafeTimedSerializer | None:
        # Flask builds a new serializer twice a request (open and save), and building one
        # serialises a probe value to learn its kind: about 2 % of a cart add (issue 10). One
        # per set of keys instead; rotating SECRET_KEY (with its fallbacks) makes a new one.
        keys = (app.secret_key, tuple(app.config["SECRET_KEY_FALLBACKS"] or ()))
        serializer = self._serializers.get(keys)
        if serializer is None:
            serializer = self._serializers[keys] = super().get_signing_serializer(app)
        return serializer
