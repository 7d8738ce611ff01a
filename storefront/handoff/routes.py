"""Continue on another device: show a code (and its QR link), confirm a link, join by code."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_login import current_user

from storefront import realtime, shopper
from storefront.cart import notices, store, views
from storefront.cart.announce import announce
from storefront.cart.state import MergeReport
from storefront.cart.types import Owner
from storefront.handoff import codes, services
from storefront.handoff.qr import qr_svg
from storefront.security import client_address, limiter, shopper_key

bp = Blueprint("handoff", __name__)

# Each view of the page makes a code: plenty for a shopper, little for a script.
ISSUE_LIMIT = "20/hour"
# Against guessing: per address (a guesser drops cookies) and per shopper. With 887 million
# codes and ten minutes each, 50 tries an hour find a given live code once in 17 million hours.
REDEEM_LIMIT = "10/minute;50/hour"
# The page and link carry a live code: never cached, never indexed. (The link's page sends
# only the shop's origin as a Referer: security.secret_address.)
PRIVATE = {"Cache-Control": "no-store", "X-Robots-Tag": "noindex, nofollow"}


def _signed_in() -> bool:
    return current_user.is_authenticated


@bp.get("/cart/handoff")
@limiter.limit(ISSUE_LIMIT, key_func=shopper_key, exempt_when=_signed_in)
def page():
    if _signed_in():
        return render_template("handoff/page.html", issued=None), 200, PRIVATE
    token = shopper.guest_token()
    if store.read(Owner.guest(token)).cart_id is None:
        # Nothing to continue yet, and a visit makes no cart (a cart is made by its first
        # add): no code for an empty cart, so crawlers and scripts write nothing here.
        return render_template("handoff/page.html", issued=None, empty=True), 200, PRIVATE
    issued = services.issue(token)
    shopper.changed_cart()
    link = url_for("handoff.confirm", code=issued.code, _external=True)
    qr = qr_svg(link, f"QR code: opens {link} to continue this cart on another device")
    page = render_template("handoff/page.html", issued=issued, link=link, qr=qr)
    return page, 200, PRIVATE


@bp.get("/h/<code>")
def confirm(code: str):
    """A link opened, perhaps by a chat app's previewer: nothing is used until a person
    confirms, by a POST only a page of ours can send."""
    code = codes.normalise(code)
    return render_template("handoff/confirm.html", code=code), 200, PRIVATE


@bp.post("/cart/handoff")
@limiter.limit(REDEEM_LIMIT, key_func=client_address)
@limiter.limit(REDEEM_LIMIT, key_func=shopper_key)
def join():
    here = None if _signed_in() else shopper.guest_token()
    joined = services.redeem(request.form.get("code"), guest_token=here, device=shopper.device())
    # This browser's cookie now names the other device's cart: same cart, same live channel.
    session[shopper.GUEST] = joined.token
    shopper.changed_cart()
    owner = Owner.guest(joined.token)
    change = joined.merge.change
    if change.op is not None:
        announce(owner, change, origin=realtime.requesting_page(), seen=None)
    flash(_joined_words(joined.merge.report))
    return redirect(url_for("cart.page"))


def _joined_words(report: MergeReport) -> str:
    words = [
        "This device now shows the cart from your other device: a change on either shows on both."
    ]
    names = views.names_for({a.sku for a in report.merged} | {s.sku for s in report.shortfalls})
    if report.merged:
        held = ", ".join(
            notices.item(a.quantity, names.get(a.sku, a.sku), a.options) for a in report.merged
        )
        words.append(f"What this device held before was added to it: {held}.")
    for short in report.shortfalls:
        name = names.get(short.sku, short.sku)
        kept = (
            f"kept {short.kept} of {short.requested}"
            if short.kept
            else f"could not add {short.requested}"
        )
        words.append(f"{name}: {kept} ({notices.REASONS[short.reason]}).")
    return " ".join(words)
