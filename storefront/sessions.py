"""The shopper's cookie: Flask's signed session, ``Secure`` exactly when served over HTTPS."""

from __future__ import annotations

from flask import Flask, request
from flask.sessions import SecureCookieSessionInterface


class SecureWhenHttpsSessionInterface(SecureCookieSessionInterface):
    def get_cookie_secure(self, app: Flask) -> bool:
        # request.is_secure already honours X-Forwarded-Proto from trusted proxies (ProxyFix).
        return request.is_secure or bool(app.config["SESSION_COOKIE_SECURE"])
