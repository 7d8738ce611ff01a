"""/password/forgot and /password/reset/<token>."""

from __future__ import annotations

import time

from flask import Blueprint, flash, redirect, render_template, request, url_for

from storefront import realtime
from storefront.accounts import reset, services
from storefront.cart.types import Owner
from storefront.security import PASSWORD_RESET_LIMIT, client_address, limiter

bp = Blueprint("password", __name__, url_prefix="/password")
ANSWER_FLOOR_SECONDS = 0.25
SENT = (
    "If an account uses that address, we have sent it a link to choose a new password. "
    "The link works for one hour."
)


@bp.route("/forgot", methods=["GET", "POST"])
@limiter.limit(PASSWORD_RESET_LIMIT, key_func=client_address, methods=["POST"])
def forgot():
    if request.method == "GET":
        return render_template("accounts/forgot.html")
    # The same answer whether the address has an account or not, and in the same time: queuing
    # an email takes longer than finding no account, so every answer waits out a fixed floor.
    started = time.monotonic()
    reset.request_reset(request.form.get("email", "")[:254])
    time.sleep(max(0.0, ANSWER_FLOOR_SECONDS - (time.monotonic() - started)))
    return render_template("accounts/forgot.html", sent=SENT)


@bp.route("/reset/<token>", methods=["GET", "POST"])
@limiter.limit(PASSWORD_RESET_LIMIT, key_func=client_address, methods=["POST"])
def reset_password(token: str):
    if request.method == "GET":
        try:
            reset.user_for(token[:500])
        except reset.ResetRefused as exc:
            return render_template("accounts/reset.html", refused=exc.message), 400
        return render_template("accounts/reset.html", token=token)
    try:
        user = reset.complete_reset(
            token[:500], request.form.get("password"), request.form.get("password_confirm")
        )
    except reset.ResetRefused as exc:
        return render_template("accounts/reset.html", refused=exc.message), 400
    except services.AccountError as exc:
        return render_template("accounts/reset.html", token=token, error=exc.message), 422
    # Every device signed in with the old password is signed out, its open pages included.
    realtime.close_sockets(Owner.user(user.id).channel, reason="password changed")
    flash("Your password is changed and every device was signed out. Sign in with the new one.")
    return redirect(url_for("accounts.login"))
