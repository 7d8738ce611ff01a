"""The cart's pages and htmx fragments: parse, call a service, publish, render."""

from __future__ import annotations

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from flask_wtf.csrf import generate_csrf
from markupsafe import Markup

from storefront import realtime, shopper
from storefront.cart import forms, notices, services
from storefront.cart.services import Request
from storefront.cart.store import Change
from storefront.security import cart_changes
from storefront.web import is_htmx, safe_next

bp = Blueprint("cart", __name__)
PAGE = 50


@bp.app_context_processor
def glance():
    def cart_glance() -> services.Glance:
        # Lazy and once per request: only pages that show the badge pay for reading the cart.
        if "cart_glance" not in g:
            g.cart_glance = services.glance(shopper.current_owner())
        return g.cart_glance

    def cart_kept_until():
        if "cart_kept_until" not in g:
            g.cart_kept_until = services.kept_until(shopper.current_owner())
        return g.cart_kept_until

    return {"cart_glance": cart_glance, "cart_kept_until": cart_kept_until}


def _request(owner) -> Request:
    return Request(owner=owner, device=shopper.device(), idempotency=forms.form_idempotency())


def _publish(owner, change: Change) -> tuple[services.ChangeView, Markup, str]:
    """After the commit: tell the other pages; return what the sender's page needs."""
    shopper.changed_cart()
    view = services.view_change(change)
    g.cart_version = view.version
    g.cart_kept_until = services.changed_now(owner)
    names = services.names_for(notices.skus_named_by(change), view.touched)
    fragment = realtime.publish_change(
        owner,
        change,
        view,
        notice=notices.change_notice_elsewhere(change, names),
        seen=forms.shown_version(),
    )
    return view, Markup(fragment), notices.change_notice(change, names)


@bp.after_request
def tell_version(response):
    # Pages use it to remember which version their own change produced ("keep mine").
    if "cart_version" in g:
        response.headers["X-Cart-Version"] = str(g.cart_version)
    return response


@bp.get("/cart")
def page():
    cart = services.view(shopper.current_owner())
    return render_template("cart/page.html", cart=cart)


@bp.get("/cart/sync")
def sync():
    """The whole cart as out-of-band fragments, for a page that missed events (or 204 if the
    page is already showing the current version)."""
    owner = shopper.current_owner()
    glance = services.glance(owner)
    since = request.args.get("since", "")
    token = {"X-CSRF-Token": generate_csrf()}  # a page whose session changed needs a new one
    if (
        since.isdigit()
        and int(since) == glance.version
        and request.args.get("cart") == str(glance.cart_id or "")
    ):
        return "", 204, token
    cart = services.view(owner)
    return render_template("cart/_sync.html", cart=cart), 200, token


@bp.post("/cart/lines")
@cart_changes
def add():
    owner = shopper.current_owner()
    sku = request.form.get("sku", "")
    change = services.add_line(_request(owner), sku, forms.quantity(default="1"), forms.options())
    view, fragment, message = _publish(owner, change)
    if is_htmx():
        product = services.product(change.op.sku if change.op else sku)
        return render_template(
            "cart/_added.html", cart=view, product=product, fragment=fragment, message=message
        )
    flash(message)
    back = url_for("catalog.product", sku=sku) if services.product(sku) else url_for("cart.page")
    return redirect(safe_next(request.form.get("next"), back))


def _after_line_change(owner, change: Change):
    view, fragment, message = _publish(owner, change)
    if not is_htmx():
        flash(message)
        return redirect(url_for("cart.page"))
    return render_template("cart/_changed.html", cart=view, fragment=fragment, message=message)


@bp.post("/cart/lines/<line_id>")
@cart_changes
def set_quantity(line_id: str):
    owner = shopper.current_owner()
    change = services.set_quantity(_request(owner), line_id, forms.quantity())
    return _after_line_change(owner, change)


@bp.post("/cart/lines/<line_id>/remove")
@cart_changes
def remove(line_id: str):
    owner = shopper.current_owner()
    return _after_line_change(owner, services.remove_line(_request(owner), line_id))


@bp.post("/cart/clear")
@cart_changes
def clear():
    owner = shopper.current_owner()
    return _after_line_change(owner, services.clear(_request(owner)))


@bp.get("/cart/history")
def history_page():
    before = request.args.get("before", "")
    before_version = int(before) if before.isdigit() and len(before) < 11 else None
    entries = services.history(shopper.current_owner(), before=before_version, limit=PAGE)
    older = entries[-1].revision if len(entries) == PAGE else None
    return render_template("cart/history.html", entries=entries, older=older)


@bp.post("/cart/restore")
@cart_changes
def restore():
    owner = shopper.current_owner()
    revision = request.form.get("revision", "")
    result = services.restore(
        _request(owner), int(revision) if revision.isdigit() and len(revision) < 11 else -1
    )
    shopper.changed_cart()
    if not result.change.replayed:
        realtime.publish_resync(owner, notices.RESTORED_ELSEWHERE)
    names = services.names_for({entry["sku"] for entry in result.unrestored})
    flash(notices.restore_notice(int(revision), result.unrestored, names))
    return redirect(url_for("cart.page"))
