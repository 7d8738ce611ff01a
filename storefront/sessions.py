"""The shopper's cookie: Flask's signed session, ``Secure`` exactly when served over HTTPS,
which trusted proxies in front may tell."""

from __future__ import annotations

from flask import Flask, request
from flask.sessions import SecureCookieSessionInterface
from werkzeug.middleware.proxy_fix import ProxyFix


def init_app(app: Flask) -> None:
    hops = app.config["PROXY_HOPS"]
    if hops:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_port=hops)
    app.session_interface = SecureWhenHttpsSessionInterface()


class SecureWhenHttpsSessionInterface(SecureCookieSessionInterface):
    def get_cookie_secure(self, app: Flask) -> bool:
        # request.is_secure already honours X-Forwarded-Proto from trusted proxies (ProxyFix).
        return request.is_secure or bool(app.config["SESSION_COOKIE_SECURE"])
