"""JSON API v1 over the same services as the pages; errors are shaped in errorpages."""

from __future__ import annotations

import json
from dataclasses import dataclass

from flask import Blueprint, current_app, jsonify, request
from flask.json.provider import DefaultJSONProvider

from storefront import realtime, shopper
from storefront.api import openapi, parsing
from storefront.api.serialize import (
    cart_json,
    cart_totals_json,
    history_json,
    line_json,
    line_json_text,
    minimal_json,
    moment_json,
    shortfall_json,
)
from storefront.cart import forms, history, moments, services, views
from storefront.cart.announce import announce
from storefront.cart.services import Request
from storefront.cart.types import Change, Owner
from storefront.cart.views import SMALL_CART, CartView, ChangeView, LineView
from storefront.errors import BadRequest, InvalidMoment
from storefront.security import cart_changes

bp = Blueprint("api", __name__, url_prefix="/api/v1")


bp.after_request(parsing.offer_csrf_token)


def _request(owner: Owner, body: object) -> Request:
    return Request(
        owner=owner,
        device=shopper.device(),
        idempotency=forms.idempotency(body, request.headers.get("Idempotency-Key")),
        expected_version=parsing.expected_version(),
    )


def _prefers_minimal() -> bool:
    return "return=minimal" in request.headers.get("Prefer", "").replace(" ", "").split(",")


def _respond(cart: CartView | ChangeView, **extra):
    minimal = _prefers_minimal()
    if not minimal and not extra and isinstance(cart, CartView) and len(cart.lines) > SMALL_CART:
        response = current_app.response_class(_large_cart_json(cart), mimetype="application/json")
    else:
        response = jsonify({**(minimal_json(cart) if minimal else cart_json(cart)), **extra})
    response.headers["ETag"] = f'"{cart.version}"'
    if minimal:
        response.headers["Preference-Applied"] = "return=minimal"
    return response


def _large_cart_json(cart: CartView) -> bytes:
    """A large cart's JSON, the very bytes ``jsonify(cart_json(cart))`` gives, written once per
    line description: ``views.view`` gives the very same view while neither the cart nor its
    products changed, and after a change the very same descriptions of the lines it did not
    touch (writing a 1,000-line cart's JSON took a third of its GET, issue 10)."""
    written = current_app.extensions.setdefault("storefront.cart_json", {})
    last = written.get(cart.cart_id)
    if last is not None and last.view is cart:
        return last.body
    provider = current_app.json
    if (
        not isinstance(provider, DefaultJSONProvider)
        or provider.compact is False
        or (provider.compact is None and current_app.debug)  # indented: for reading, not speed
        or provider.sort_keys  # "lines" would not come last
    ):
        return jsonify(cart_json(cart)).get_data()
    dumps = _compact_encoder(provider).encode
    written_by_hand = provider.ensure_ascii  # as line_json_text writes

    def write(line: LineView) -> str:
        return line_json_text(line, dumps) if written_by_hand else dumps(line_json(line))

    earlier = last.lines if last is not None else {}
    lines: dict[str, tuple[LineView, str]] = {}
    for line in cart.lines:
        seen = earlier.get(line.id)
        lines[line.id] = seen if seen and seen[0] is line else (line, write(line))
    # The totals' object, its closing brace replaced by the lines.
    head = dumps(cart_totals_json(cart))
    body = f'{head[:-1]},"lines":[{",".join(text for _, text in lines.values())}]}}\n'.encode()
    if len(written) >= views.DESCRIBED_CARTS:
        written.clear()
    written[cart.cart_id] = _Written(cart, body, lines)
    return body


def _compact_encoder(provider: DefaultJSONProvider) -> json.JSONEncoder:
    """What ``provider.dumps`` builds on every call, as jsonify writes (compact), built once:
    a 1,000-line cart's lines are written one by one."""
    encoder = current_app.extensions.get("storefront.compact_json")
    if encoder is None:
        encoder = current_app.extensions["storefront.compact_json"] = json.JSONEncoder(
            default=provider.default,
            ensure_ascii=provider.ensure_ascii,
            sort_keys=provider.sort_keys,
            separators=(",", ":"),
        )
    return encoder


@dataclass(frozen=True, slots=True)
class _Written:
    view: CartView
    body: bytes
    lines: dict  # line id -> (its description, its JSON)


def _changed(req: Request, change: Change, **extra):
    """After the commit: announce the change, answer with the cart (or its totals)."""
    shopper.changed_cart()
    minimal = _prefers_minimal()
    # Only a full answer lists every line; a minimal one needs the totals alone.
    news = announce(
        req.owner,
        change,
        origin=realtime.requesting_page(),
        seen=req.expected_version,
        whole_cart=not minimal,
    )
    return _respond(news.view if minimal else news.view.whole, **extra)


@bp.get("/cart")
def get_cart():
    return _respond(views.view(shopper.current_owner()))


@bp.post("/cart/lines")
@cart_changes
def add_line():
    body = parsing.body()
    parsing.only_keys(body, {"sku", "quantity", "options"})
    if "sku" not in body or "quantity" not in body:
        raise BadRequest('The body needs "sku" and "quantity".')
    # Left out, or an object: null is no more an object here than in the OpenAPI document.
    options = body.get("options")
    if "options" in body and not isinstance(options, dict):
        raise BadRequest('"options" must be an object of option names to text.')
    req = _request(shopper.current_owner(), body)
    return _changed(req, services.add_line(req, body["sku"], body["quantity"], options))


@bp.patch("/cart/lines/<line_id>")
@cart_changes
def set_quantity(line_id: str):
    body = parsing.body()
    parsing.only_keys(body, {"quantity"})
    if "quantity" not in body:
        raise BadRequest('The body needs "quantity".')
    req = _request(shopper.current_owner(), body)
    return _changed(req, services.set_quantity(req, line_id, body["quantity"]))


@bp.delete("/cart/lines/<line_id>")
@cart_changes
def remove_line(line_id: str):
    req = _request(shopper.current_owner(), None)
    return _changed(req, services.remove_line(req, line_id))


@bp.delete("/cart")
@cart_changes
def clear():
    req = _request(shopper.current_owner(), None)
    return _changed(req, services.clear(req))


@bp.get("/openapi.json")
def openapi_document():
    return jsonify(openapi.document())


def _int_arg(name: str, default: int | None, low: int, high: int) -> int | None:
    raw = request.args.get(name)
    if raw is None:
        return default
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 10 or not low <= int(raw) <= high:
        raise BadRequest(f"{name} must be a whole number from {low} to {high}.")
    return int(raw)


@bp.get("/cart/history")
def cart_history():
    if "at" in request.args:
        if request.args.keys() - {"at"}:
            raise InvalidMoment('"at" asks for one moment: it takes no "before" or "limit".')
        at = moments.check_in_window(moments.parse(request.args["at"]))
        return jsonify(moment_json(moments.cart_at(shopper.current_owner(), at)))
    before = _int_arg("before", None, 1, 2**31 - 1)
    limit = _int_arg("limit", 50, 1, 200)
    entries = history.timeline(shopper.current_owner(), before=before, limit=limit)
    return jsonify(revisions=[history_json(entry) for entry in entries])


@bp.post("/cart/restore")
@cart_changes
def restore():
    body = parsing.body()
    parsing.only_keys(body, {"revision", "at"})
    req = _request(shopper.current_owner(), body)
    if "at" in body:
        if "revision" in body:
            raise BadRequest('Give "revision" or "at", not both.')
        result = services.restore_at(req, moments.parse(body["at"]))
    else:
        revision = body.get("revision")
        if isinstance(revision, bool) or not isinstance(revision, int):
            raise BadRequest('The body needs "revision", a whole number, or "at", a moment.')
        result = services.restore(req, revision)
    unrestored = [shortfall_json(short) for short in result.unrestored]
    return _changed(req, result.change, unrestored=unrestored)
