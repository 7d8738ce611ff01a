"""/support: for users with the support role only; everyone else gets 403."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from storefront.cart import notices, views
from storefront.cart.announce import announce
from storefront.cart.types import Owner
from storefront.support import services
from storefront.web import whole_number

bp = Blueprint("support", __name__, url_prefix="/support")


@bp.before_request
def support_only():
    if not (current_user.is_authenticated and current_user.is_support):
        abort(403)


@bp.get("")
def index():
    email = request.args.get("email", "").strip()[:254]
    customer = services.find_shopper(email) if email else None
    entries = services.timeline(current_user, customer) if customer else []
    return render_template(
        "support/index.html",
        email=email,
        customer=customer,
        entries=entries,
        actions=services.recent_actions(),
    )


@bp.post("/restore")
def restore():
    user_id, revision = request.form.get("user_id", ""), request.form.get("revision", "")
    if whole_number(user_id, 10) is None or whole_number(revision, 10) is None:
        abort(400)
    customer = services.shopper(int(user_id))
    result = services.restore(current_user, customer, int(revision))
    announce(Owner.user(customer.id), result.change, origin="", seen=None)
    names = views.names_for({short.sku for short in result.unrestored})
    whose = f"The cart of {customer.email} is"
    flash(notices.restore_notice(int(revision), result.unrestored, names, whose))
    return redirect(url_for("support.index", email=customer.email))
