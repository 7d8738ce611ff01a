"""Unbound extension objects; create_app binds them."""

import hmac

from flask import current_app, g, request, session
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sock import Sock
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from flask_wtf.csrf import same_origin
from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    pass


# Objects stay readable after commit: a request keeps using what it loaded, no reload storm.
db = SQLAlchemy(model_class=Base, session_options={"expire_on_commit": False})
migrate = Migrate()


class UnhashedLoginManager(LoginManager):
    """Flask-Login hashes the address and the user agent for its session protection on every
    request, before it looks whether that protection is on at all (about 1 % of a cart add,
    issue 10): with it off, nothing is hashed."""

    def _session_protection_failed(self):
        if not current_app.config.get("SESSION_PROTECTION", self.session_protection):
            return False
        return super()._session_protection_failed()


login_manager = UnhashedLoginManager()
# Flask-Login's "basic" session protection only marks a session not fresh when the address or
# browser changes, and nothing here asks for a fresh sign-in. Accounts are protected by their
# device sessions (accounts/services.py: server-side, revocable, ended when idle), and a
# sign-in always starts a new cookie.
login_manager.session_protection = None


class HeaderFirstCSRFProtect(CSRFProtect):
    """Looks for the token in the headers before the form: the API and htmx send it as a
    header, and reading the form first made werkzeug parse every JSON body as a form (about
    1.5 % of a cart add, issue 10). Either way the token must be valid for the session."""

    def _get_csrf_token(self):
        return self._header_token() or super()._get_csrf_token()

    def _header_token(self) -> str | None:
        for header_name in current_app.config["WTF_CSRF_HEADERS"]:
            token = request.headers.get(header_name)
            if token:
                return token
        return None

    def protect(self, apply_exemptions=False):
        """A token this process has verified already (a page sends the same one in a header
        with every change) is only compared with the session's: verifying its signature again
        was about 3.5 % of a cart add (issue 10). The first time, and whenever anything
        differs, it is flask-wtf's own check, with its refusals. Over HTTPS the Referer that
        flask-wtf's strict check wants is checked as it would. (Only a header's token: a
        form's would be read before an exempt view could raise its upload limit.)"""
        config = current_app.config
        token = self._header_token()
        if (
            token
            and request.method in config["WTF_CSRF_METHODS"]
            and config["WTF_CSRF_TIME_LIMIT"] is None  # else a token's age matters too
        ):
            key = (_csrf_secret(), token)
            signed = _verified_csrf_tokens.get(key)
            field = config["WTF_CSRF_FIELD_NAME"]
            if (
                signed is not None
                and hmac.compare_digest(str(session.get(field, "")), signed)
                and _referrer_as_strict_as_flask_wtf(config)
            ):
                g.csrf_valid = True
                return None
            super().protect(apply_exemptions)
            if g.get("csrf_valid"):
                if len(_verified_csrf_tokens) >= VERIFIED_CSRF_TOKENS:
                    _verified_csrf_tokens.clear()
                # Valid: the token is a signature of the session's value under this secret.
                _verified_csrf_tokens[key] = session[field]
            return None
        return super().protect(apply_exemptions)


def _referrer_as_strict_as_flask_wtf(config) -> bool:
    """Over HTTPS with WTF_CSRF_SSL_STRICT, flask-wtf also wants a Referer of this very origin:
    the shortcut asks the same (with flask-wtf's own comparison), and when it is not met,
    flask-wtf's check runs and says why it refuses."""
    if not (request.is_secure and config["WTF_CSRF_SSL_STRICT"]):
        return True
    referrer = request.referrer
    return bool(referrer) and same_origin(referrer, f"https://{request.host}/")


VERIFIED_CSRF_TOKENS = 8192
# (secret, signed token) -> the value it signs. Without a time limit that never changes.
_verified_csrf_tokens: dict[tuple, str] = {}


def _csrf_secret():
    return current_app.config.get("WTF_CSRF_SECRET_KEY") or current_app.secret_key


csrf = HeaderFirstCSRFProtect()
sock = Sock()
