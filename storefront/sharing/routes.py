"""Sharing a cart: invite (a link shown once), the invitation's confirmation page, accept,
stop. Parse, call a service, tell the other account's pages, render."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_login import current_user

from storefront import realtime, shopper
from storefront.cart.types import Owner
from storefront.errorpages import STATUS
from storefront.errors import DomainError
from storefront.security import cart_changes
from storefront.sharing import services
from storefront.web import is_htmx

bp = Blueprint("sharing", __name__)

# The link is a secret: no cache may keep its pages (nor a Referer carry it:
# security.secret_address).
PRIVATE = {"Cache-Control": "no-store"}


def _tell(user_id: int, text: str | None = None) -> None:
    """A notice (if any) and the sharing panel as it is now, on every open page of that account
    (after the commit)."""
    notice = render_template("cart/_notice_elsewhere.html", text=text, origin="") if text else ""
    panel = render_template(
        "sharing/_panel.html",
        signed_in=True,
        pushed=True,
        sharing=services.sharing_of(Owner.user(user_id)),
    )
    realtime.publish(Owner.user(user_id).channel, notice + panel)


def _reconnect(user_id: int) -> None:
    # Its pages now show another cart: they reconnect, are greeted with that cart's id and
    # fetch it whole (the version guard sees a different cart).
    realtime.close_sockets(Owner.user(user_id).channel, reason="cart changed hands")


@bp.post("/cart/share")
@cart_changes
def invite():
    invitation = services.invite(shopper.current_owner())
    link = url_for("sharing.show", token=invitation.token, _external=True)
    # htmx: the link takes the panel's place on the cart page; without JavaScript, a page.
    template = "sharing/_invited.html" if is_htmx() else "sharing/invited.html"
    body = render_template(template, link=link, expires_at=invitation.expires_at)
    # The link is a secret shown once: no cache may keep this page.
    return body, 201, PRIVATE


@bp.get("/share/<token>")
def show(token: str):
    """Asks to confirm: opening the link (a chat app's preview, a mail scanner) uses nothing."""
    try:
        preview = services.preview(token, shopper.current_owner())
    except DomainError as exc:
        return _refused(exc.message, STATUS.get(exc.code, 400))
    status = STATUS.get(preview.refusal_code, 200) if preview.refusal else 200
    page = render_template(
        "sharing/accept.html",
        preview=preview,
        token=token,
        guest=not current_user.is_authenticated,
    )
    return page, status, PRIVATE


def _refused(message: str, status: int):
    page = render_template("sharing/refused.html", message=message)
    return page, status, PRIVATE


@bp.post("/share/<token>")
@cart_changes
def accept(token: str):
    owner = shopper.current_owner()
    owner_id = services.accept(token, owner)
    names = services.names_of([owner_id, owner.user_id])
    _tell(owner.user_id)
    _reconnect(owner.user_id)
    _tell(
        owner_id,
        f"{names.get(owner.user_id, 'Someone')} accepted your invitation: you now share this cart.",
    )
    flash(
        f"You now share {names.get(owner_id, 'their')}'s cart. Your own cart is kept aside "
        "and comes back when sharing stops."
    )
    return redirect(url_for("cart.page"))


@bp.post("/cart/share/stop")
@cart_changes
def stop():
    owner = shopper.current_owner()
    ended = services.stop(owner)
    names = services.names_of([ended.owner_id, ended.member_id])
    if owner.user_id == ended.owner_id:
        _tell(
            ended.member_id,
            f"{names.get(ended.owner_id, 'The owner')} stopped sharing "
            "their cart: your own cart is back.",
        )
        flash("You stopped sharing this cart: it is yours alone again.")
    else:
        _tell(
            ended.owner_id,
            f"{names.get(ended.member_id, 'The other account')} left your "
            "shared cart: it is yours alone again.",
        )
        flash("You left the shared cart: your own cart is back.")
    _tell(owner.user_id)  # this account's other pages
    _reconnect(ended.member_id)
    if is_htmx():
        # The page may now show another cart (the member's own): it is loaded afresh.
        return "", 204, {"HX-Redirect": url_for("cart.page")}
    return redirect(url_for("cart.page"))
