"""Who may enter the back office. Everyone but staff is told there is nothing here (404), so
the back office's addresses give nothing away; a signed-out visitor is asked to sign in first,
because staff sign in through the same page as shoppers."""

from __future__ import annotations

from flask import abort, redirect, request, url_for
from flask_login import current_user


def is_staff() -> bool:
    return bool(current_user.is_authenticated and current_user.is_staff)


def pages_for_staff_only():
    if is_staff():
        return None
    if not current_user.is_authenticated:
        return redirect(url_for("accounts.login", next=request.full_path.rstrip("?")))
    abort(404)


def api_for_staff_only():
    if not is_staff():
        abort(404)
