"""The cart's pages and htmx fragments: parse, call a service, announce, render."""

from __future__ import annotations

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from flask_wtf.csrf import generate_csrf

from storefront import realtime, shopper
from storefront.cart import forms, history, moments, notices, services, views
from storefront.cart.announce import Announcement, announce
from storefront.cart.services import Request
from storefront.cart.types import Change, Owner
from storefront.errors import InvalidMoment
from storefront.saved import services as saved_for_later
from storefront.security import cart_changes
from storefront.sharing import services as sharing
from storefront.web import is_htmx, safe_next, whole_number

bp = Blueprint("cart", __name__)
PAGE = 50
# A large cart's page shows this many rows at first; htmx loads the rest as the shopper
# scrolls, and without JavaScript a link shows them all. Rendering 1,000 rows was most of the
# page's time.
ROWS = 100


@bp.app_context_processor
def glance():
    def cart_glance() -> views.Glance:
        # Lazy and once per request: only pages that show the badge pay for reading the cart.
        if "cart_glance" not in g:
            g.cart_glance = views.glance(shopper.current_owner())
        return g.cart_glance

    return {"cart_glance": cart_glance}


def _request(owner: Owner) -> Request:
    return Request(owner=owner, device=shopper.device(), idempotency=forms.form_idempotency())


def _announce(owner: Owner, change: Change) -> Announcement:
    shopper.changed_cart()
    return announce(owner, change, origin=realtime.requesting_page(), seen=forms.shown_version())


def _fragment_answer(template: str, news: Announcement):
    # The version header lets the page remember which version its own change produced.
    body = render_template(template, fragment=news.fragment, message=news.message)
    return body, {"X-Cart-Version": str(news.view.version)}


@bp.get("/cart")
def page():
    owner = shopper.current_owner()
    cart = views.view(owner)
    shown = cart.line_count if request.args.get("rows") == "all" else ROWS
    sharing_now = sharing.sharing_of(owner)
    saved = saved_for_later.saved_in(cart.cart_id)
    return render_template(
        "cart/page.html", cart=cart, start=0, stop=shown, sharing=sharing_now, saved=saved
    )


@bp.get("/cart/rows")
def rows():
    """The rows after the page's last shown row (``after``, its line id: the cart may have
    changed since, so an offset alone could skip or repeat a row; ``at`` if it is gone)."""
    cart = views.view(shopper.current_owner())
    after, at = request.args.get("after", ""), request.args.get("at", "")
    ids = [line.id for line in cart.lines]
    start = ids.index(after) + 1 if after in ids else (whole_number(at, 5) or 0)
    return render_template("cart/_rows.html", cart=cart, start=start, stop=start + ROWS)


@bp.get("/cart/sync")
def sync():
    """The whole cart as out-of-band fragments, for a page that missed events (or 204 if the
    page is already showing the current version)."""
    owner = shopper.current_owner()
    glance = views.glance(owner)
    since = request.args.get("since", "")
    token = {"X-CSRF-Token": generate_csrf()}  # a page whose session changed needs a new one
    if whole_number(since, 11) == glance.version and request.args.get("cart") == str(
        glance.cart_id or ""
    ):
        return "", 204, token
    cart = views.view(owner)
    return render_template("cart/_sync.html", cart=cart), 200, token


# A catalog event names one product, an import's up to this many: a page asks for them at once.
MAX_CATALOG_SKUS = 100


@bp.get("/cart/catalog")
def catalog_change():
    """After a catalog change (``?sku=`` once per product): this cart's lines of those
    products at today's prices and the cart's new totals, out of band; 204 if the cart holds
    none of them. The cart's version is unchanged: the page applies it over what it shows."""
    skus = {sku for sku in request.args.getlist("sku")[:MAX_CATALOG_SKUS] if len(sku) <= 64}
    found = views.view_lines_of(shopper.current_owner(), skus) if skus else None
    if found is None:
        return "", 204
    return render_template(
        "cart/_change.html",
        cart=found,
        new=[],
        changed=found.touched,
        removed=[],
        cleared=False,
    )


@bp.post("/cart/lines")
@cart_changes
def add():
    owner = shopper.current_owner()
    sku = request.form.get("sku", "")
    change = services.add_line(_request(owner), sku, forms.quantity(default="1"), forms.options())
    news = _announce(owner, change)
    if is_htmx():
        return _fragment_answer("cart/_added.html", news)
    flash(news.message)
    # It was added, so the product exists (a replayed key names the same SKU).
    back = url_for("catalog.product", sku=change.op.sku if change.op else sku)
    return redirect(safe_next(request.form.get("next"), back))


def _after_line_change(owner: Owner, change: Change):
    news = _announce(owner, change)
    if not is_htmx():
        flash(news.message)
        return redirect(url_for("cart.page"))
    return _fragment_answer("cart/_changed.html", news)


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
    before_version = whole_number(before, 10)
    entries = history.timeline(shopper.current_owner(), before=before_version, limit=PAGE)
    older = entries[-1].revision if len(entries) == PAGE else None
    moment, moment_error, status = None, None, 200
    if request.args.get("at"):
        try:
            at = moments.check_in_window(moments.parse_local(request.args["at"]))
            moment = moments.cart_at(shopper.current_owner(), at)
        except InvalidMoment as exc:
            moment_error, status = exc.message, 422
    page = render_template(
        "cart/history.html",
        entries=entries,
        older=older,
        moment=moment,
        moment_local=moment and f"{moment.at.astimezone(moments.shop_zone()):%Y-%m-%dT%H:%M:%S}",
        moment_error=moment_error,
        window=moments.window_for_form(),
    )
    return page, status


@bp.post("/cart/restore")
@cart_changes
def restore():
    owner = shopper.current_owner()
    if "at" in request.form:
        result = services.restore_at(_request(owner), moments.parse(request.form["at"]))
        revision_number = _restored_revision(result.change)
    else:
        revision = request.form.get("revision", "")
        revision_number = whole_number(revision, 10)
        revision_number = -1 if revision_number is None else revision_number
        result = services.restore(_request(owner), revision_number)
    _announce(owner, result.change)
    names = views.names_for({short.sku for short in result.unrestored})
    flash(notices.restore_notice(revision_number, result.unrestored, names))
    return redirect(url_for("cart.page"))


def _restored_revision(change: Change) -> int:
    return getattr(change.op, "restored", change.version)
