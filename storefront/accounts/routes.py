"""Sign in, register, sign out. Signing in rotates the session, then merges the guest cart."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user, login_user, logout_user

from storefront import clock, realtime, shopper
from storefront.accounts import data, services
from storefront.accounts.models import User
from storefront.cart import notices
from storefront.cart import services as cart_services
from storefront.cart import views as cart_views
from storefront.cart.announce import announce
from storefront.cart.types import Owner
from storefront.errorpages import refusal
from storefront.extensions import login_manager
from storefront.security import REGISTER_LIMIT, SIGN_IN_LIMIT, client_address, limiter
from storefront.web import is_htmx, safe_next

bp = Blueprint("accounts", __name__)
# Requests that must not count as the shopper being active.
NOT_ACTIVITY = {
    "static",
    "health.healthz",
    "health.readyz",
    "realtime.page_socket",
    "live.events",
    "live.poll",
    "accounts.session_status",
}


@login_manager.user_loader
def load_user(token: str) -> User | None:
    user = services.resume_session(token, renew=request.endpoint not in NOT_ACTIVITY)
    if user is None and "_user_id" in session:
        session.pop("_user_id", None)
        session["idle_signed_out"] = True
    return user


@bp.before_app_request
def tell_about_idle_sign_out():
    if request.endpoint in NOT_ACTIVITY:
        return
    current_user._get_current_object()  # loads (and renews) the session first
    if session.pop("idle_signed_out", False):
        flash(
            "You were signed out after a while without activity. Your cart is saved with "
            "your account: sign in to see it."
        )


def _end_current_session() -> None:
    """End this device's signed-in session, and close the sockets of its pages."""
    if current_user.is_authenticated:
        token = current_user.get_id()
        services.end_session(token)
        realtime.close_sockets(
            Owner.user(current_user.id).channel,
            session=services.session_key(token),
            reason="signed out",
        )


def _sign_in(user: User) -> None:
    """A new session for this device: nothing of the old cookie survives (fixation)."""
    session.clear()
    services.start_session(user, shopper.device())
    login_user(user)
    session.permanent = True


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(SIGN_IN_LIMIT, key_func=client_address, methods=["POST"])
def login():
    next_url = safe_next(request.values.get("next"), url_for("catalog.index"))
    if request.method == "GET":
        return render_template("accounts/login.html", next_url=next_url)
    user = services.authenticate(request.form.get("email"), request.form.get("password"))
    if user is None:
        flash("That email and password do not match an account.", "error")
        return render_template(
            "accounts/login.html", next_url=next_url, email=request.form.get("email", "")[:254]
        ), 401
    notice, undo_to = _merge_guest_cart_into(user)
    _end_current_session()
    _sign_in(user)
    if undo_to is not None:
        flash(notice, f"merge-undo:{undo_to}")
    else:
        flash(notice or "You are signed in.")
    return redirect(url_for("cart.page") if notice else next_url)


def _merge_guest_cart_into(user: User) -> tuple[str, int | None]:
    """Merge this browser's guest cart; return the notice and the revision an undo goes to."""
    guest = shopper.guest_owner_if_any()
    if guest is None:
        return "", None
    result = cart_services.merge_guest_cart(guest, user.id, shopper.device())
    # This browser's other tabs reconnect as the account (their cookie changes with ours).
    realtime.close_sockets(guest.channel, reason="signed in")
    report = result.report
    names = cart_views.names_for(
        {a.sku for a in report.merged} | {s.sku for s in report.shortfalls}
    )
    if result.change.op is None:
        return notices.merge_notice(report, names), None
    announce(Owner.user(user.id), result.change, origin="", seen=None)
    return notices.merge_notice(report, names), result.change.version - 1


@bp.route("/register", methods=["GET", "POST"])
@limiter.limit(REGISTER_LIMIT, key_func=client_address, methods=["POST"])
def register():
    if request.method == "GET":
        return render_template("accounts/register.html")
    guest = shopper.guest_owner_if_any()
    try:
        user = services.register(
            request.form.get("email"),
            request.form.get("password"),
            guest,
            cart_reminders=request.form.get("cart_reminders") == "on",
        )
    except services.AccountError as exc:
        email = request.form.get("email", "")[:254]
        return render_template("accounts/register.html", error=exc.message, email=email), 422
    if guest is not None:
        realtime.close_sockets(guest.channel, reason="registered")
    _end_current_session()
    _sign_in(user)
    flash("Welcome! Your account is ready and your cart is saved with it.")
    return redirect(url_for("catalog.index"))


@bp.post("/logout")
def logout():
    _end_current_session()
    logout_user()
    session.clear()
    flash("You are signed out on this device.")
    return redirect(url_for("catalog.index"))


@bp.post("/session/renew")
def renew_session():
    """ "Stay signed in": counts as activity, so the idle timeout starts again."""
    if not current_user.is_authenticated:
        return refusal(401, "not_signed_in", "You are not signed in (any more). Sign in again.")
    services.renew_session(current_user.get_id())
    if request.accept_mimetypes.best == "application/json" or is_htmx():
        expires = session_expires_at()
        return jsonify(expires_at=expires.isoformat(), seconds_left=seconds_until(expires))
    flash("You stay signed in.")
    return redirect(safe_next(request.referrer and urlsplit(request.referrer).path, "/"))


@bp.get("/session/status")
def session_status():
    """How long this device stays signed in; asking does not count as activity."""
    left = session_seconds_left()
    return jsonify(signed_in=left is not None, seconds_left=left or 0)


def seconds_until(moment: datetime) -> int:
    return max(0, int((moment - clock.now()).total_seconds()))


@bp.app_template_global()
def session_seconds_left() -> int | None:
    expires = session_expires_at()
    return None if expires is None else seconds_until(expires)


def session_expires_at() -> datetime | None:
    """When this device's signed-in session ends if nothing happens before."""
    token = shopper.session_token()
    return None if token is None else services.session_deadline(token)


@bp.get("/account")
def account():
    if not current_user.is_authenticated:
        return redirect(url_for("accounts.login", next="/account"))
    return render_template("accounts/account.html")


@bp.post("/account/reminders")
def reminder_choice():
    if not current_user.is_authenticated:
        return redirect(url_for("accounts.login", next="/account"))
    allowed = request.form.get("cart_reminders") == "on"
    services.set_cart_reminders(current_user, allowed)
    flash(
        "You will get one email when you leave items in your cart."
        if allowed
        else "No cart reminders will be sent to you."
    )
    return redirect(url_for("accounts.account"))


@bp.get("/account/export")
def export():
    if not current_user.is_authenticated:
        return refusal(401, "not_signed_in", "Sign in to download your data.")
    response = jsonify(data.export(current_user))
    response.headers["Content-Disposition"] = 'attachment; filename="storefront-my-data.json"'
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/account/delete")
def delete_account():
    if not current_user.is_authenticated:
        return refusal(401, "not_signed_in", "Sign in to delete your account.")
    user_id = current_user.id
    try:
        partner = services.delete_account(current_user, request.form.get("password"))
    except services.AccountError as exc:
        return render_template("accounts/account.html", error=exc.message), 403
    realtime.close_sockets(Owner.user(user_id).channel, reason="account deleted")
    if partner is not None:
        # The cart they shared is gone or theirs alone again: their pages reconnect and resync.
        realtime.close_sockets(Owner.user(partner).channel, reason="sharing ended")
    logout_user()
    session.clear()
    flash("Your account, its carts and their history are deleted.")
    return redirect(url_for("catalog.index"))
