"""A cart reminder's link (the cart as it was, what changed since, one button to bring it back)
and the one-click unsubscribe every reminder carries."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user

from storefront import shopper
from storefront.cart import notices, services, views
from storefront.cart.announce import announce
from storefront.cart.types import Owner
from storefront.extensions import csrf
from storefront.mail import reminders

bp = Blueprint("reminders", __name__)


def _signed_in_or_login():
    if current_user.is_authenticated:
        return None
    return redirect(url_for("accounts.login", next=request.path))


@bp.get("/cart/reminder/<token>")
def show(token: str):
    if (answer := _signed_in_or_login()) is not None:
        return answer
    try:
        seen = reminders.view(token, current_user.id)
    except reminders.ReminderRefused as exc:
        return render_template("reminders/refused.html", message=exc.message), 404
    return render_template("reminders/cart.html", seen=seen, token=token)


@bp.post("/cart/reminder/<token>")
def bring_back(token: str):
    if (answer := _signed_in_or_login()) is not None:
        return answer
    try:
        reminder = reminders.reminder_for(token, current_user.id)
    except reminders.ReminderRefused as exc:
        return render_template("reminders/refused.html", message=exc.message), 404
    owner = Owner.user(current_user.id)
    request_ = services.Request(owner=owner, device=shopper.device())
    result = services.restore(
        request_, reminder.version, also=lambda _: reminders.mark_recovered(reminder.id)
    )
    shopper.changed_cart()
    announce(owner, result.change, origin="", seen=None)
    names = views.names_for({short.sku for short in result.unrestored})
    flash(notices.restore_notice(reminder.version, result.unrestored, names))
    return redirect(url_for("cart.page"))


@bp.get("/email/unsubscribe/<token>")
def unsubscribe_page(token: str):
    return render_template("reminders/unsubscribe.html", token=token)


# Mail clients send RFC 8058's one-click POST themselves, with no CSRF token: the signed
# token in the address is what proves the request came from the email.
@bp.post("/email/unsubscribe/<token>")
@csrf.exempt
def unsubscribe(token: str):
    try:
        reminders.unsubscribe(token)
    except reminders.ReminderRefused as exc:
        return render_template("reminders/refused.html", message=exc.message), 404
    return render_template("reminders/unsubscribe.html", done=True)
