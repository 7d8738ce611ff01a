"""/admin/orders and /api/v1/admin/orders: staff find orders, read one, and handle it (mark
paid, fulfil, cancel, refund). The rules are in storefront/orders/transitions.py, the changes in
storefront/orders/handling.py; this module parses, calls them, renders, and tells the
shopper's open order page."""

from __future__ import annotations

from flask import flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user

from storefront.admin.blueprints import api_bp, bp
from storefront.api import parsing
from storefront.catalog import changes
from storefront.checkout.serialize import order_json
from storefront.errorpages import STATUS
from storefront.errors import BadRequest, DomainError, NotFound
from storefront.money import to_decimal_text
from storefront.orders import handling, listing, live, timeline, transitions
from storefront.orders import services as orders
from storefront.orders.models import Order

API_PAGE_SIZE = 50
# What each action's JSON body may hold (CONTRACT.md, "Back office").
FIELDS = {
    "mark-paid": set(),
    "fulfil": {"tracking"},
    "cancel": set(),
    "refund": {"amount", "restock"},
}
LABELS = {
    "mark-paid": "Mark paid",
    "fulfil": "Mark fulfilled",
    "cancel": "Cancel the order",
    "refund": "Refund",
}
DONE = {
    "mark-paid": "marked paid",
    "fulfil": "marked fulfilled",
    "cancel": "cancelled",
    "refund": "refunded",
}


@bp.get("/orders", endpoint="orders")
def orders_list():
    query = listing.parse(request.args)
    found, total = listing.orders(query)
    return render_template(
        "admin/orders/index.html",
        query=query,
        orders=found,
        total=total,
        pages=max(1, -(-total // listing.PAGE_SIZE)),
        statuses=orders.STATUS_WORDS,
        args=request.args,
    )


@bp.get("/orders/<number>")
def orders_detail(number: str):
    return _detail(_order(number))


@bp.post("/orders/<number>/<action>")
def orders_act(number: str, action: str):
    order = _order(number)
    if action not in FIELDS:
        raise NotFound(f"There is no order action {action[:40]!r}.")
    form = request.form
    req = handling.Request(
        action=action,
        tracking=form.get("tracking"),
        amount=form.get("amount", "").strip() or None,
        restock=form.get("restock") in ("yes", "on", "true"),
        seen=form.get("seen"),
    )
    try:
        done = handling.act(current_user._get_current_object(), order.number, req)
    except DomainError as e:
        # Refused: the same page again, with the reason where the staff member is looking.
        return (
            _detail(orders.by_number(order.number), error=e.message),
            STATUS.get(e.code, 400),
            {"X-Error-Code": e.code},
        )
    _announce(done)
    flash(f"Order {done.order.number} {DONE[action]}.", "success")
    return redirect(url_for("admin.orders_detail", number=done.order.number), 303)


def _order(number: str) -> Order:
    order = orders.by_number(number)
    if order is None:
        raise NotFound("There is no such order.")
    return order


def _detail(order: Order, error: str | None = None):
    view = orders.view(order)
    return render_template(
        "admin/orders/detail.html",
        view=view,
        order=order,
        steps=timeline.steps(order),
        actions=transitions.available(order.status, order.refunded, order.total),
        labels=LABELS,
        seen=handling.seen(order),
        left=to_decimal_text(order.total - order.refunded, order.currency),
        error=error,
    )


@api_bp.get("/orders")
def api_orders():
    status = request.args.get("status", "")
    if status and status not in listing.STATUSES:
        raise BadRequest(
            f"Unknown status {status[:20]!r}; the statuses are {', '.join(listing.STATUSES)}."
        )
    page = request.args.get("page", "1")
    if not (page.isascii() and page.isdigit() and 0 < len(page) < 6 and int(page) > 0):
        raise BadRequest("page must be a whole number from 1.")
    query = listing.Query(status=status, search=request.args.get("q", "")[:254], page=int(page))
    found, _ = listing.orders(query, page_size=API_PAGE_SIZE)
    return jsonify({"orders": [order_json(orders.view(o)) for o in found]})


@api_bp.post("/orders/<number>/<action>")
def api_act(number: str, action: str):
    if action not in FIELDS:
        raise NotFound(f"There is no order action {action[:40]!r}.")
    given = parsing.body() if request.get_data(cache=True).strip() else {}
    parsing.only_keys(given, FIELDS[action])
    req = handling.Request(
        action=action,
        tracking=given.get("tracking"),
        amount=given.get("amount"),
        restock=handling.restock_flag(given.get("restock")),
    )
    done = handling.act(current_user._get_current_object(), number, req)
    _announce(done)
    return jsonify(order_json(orders.view(done.order)))


def _announce(done: handling.Handled) -> None:
    """After the commit: the shopper's open order page, and every open page showing a product
    whose stock came back."""
    live.announce(done.order)
    for before, after in done.restocked:
        changes.announce(before, after)
