"""Unbound extension objects; create_app binds them."""

from flask import current_app, request
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sock import Sock
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    pass


# Objects stay readable after commit: a request keeps using what it loaded, no reload storm.
db = SQLAlchemy(model_class=Base, session_options={"expire_on_commit": False})
migrate = Migrate()
login_manager = LoginManager()
# Flask-Login's "basic" session protection only marks a session not fresh when the address or
# browser changes, and nothing here asks for a fresh sign-in; it hashed the address and the
# user agent on every request, a guest's too (about 1.5 % of a cart add, issue 10). Accounts
# are protected by their device sessions (accounts/services.py: server-side, revocable, ended
# when idle), and a sign-in always starts a new cookie.
login_manager.session_protection = None


class HeaderFirstCSRFProtect(CSRFProtect):
    """Looks for the token in the headers before the form: the API and htmx send it as a
    header, and reading the form first made werkzeug parse every JSON body as a form (about
    1.5 % of a cart add, issue 10). Either way the token must be valid for the session."""

    def _get_csrf_token(self):
        for header_name in current_app.config["WTF_CSRF_HEADERS"]:
            token = request.headers.get(header_name)
            if token:
                return token
        return super()._get_csrf_token()


csrf = HeaderFirstCSRFProtect()
sock = Sock()
