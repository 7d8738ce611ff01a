"""JSON API v1 for the checkout and orders, over the same services as the pages."""

from __future__ import annotations

from flask import Blueprint, jsonify, request

from storefront import realtime, shopper
from storefront.api import parsing
from storefront.cart import forms
from storefront.checkout import live, placing, services
from storefront.checkout.serialize import checkout_json, order_json
from storefront.errors import BadRequest
from storefront.orders import placed_here
from storefront.orders import services as orders
from storefront.security import checkout_completions

bp = Blueprint("checkout_api", __name__, url_prefix="/api/v1")
bp.after_request(parsing.offer_csrf_token)


def _checkout_response(checkout):
    response = jsonify(checkout_json(checkout))
    response.headers["ETag"] = f'"{checkout.cart_version}"'
    return response


@bp.get("/checkout")
def get_checkout():
    return _checkout_response(services.read(shopper.current_owner()))


@bp.put("/checkout")
def put_checkout():
    body = parsing.body()
    parsing.only_keys(body, set(services.FIELDS))
    checkout, _ = services.update(shopper.current_owner(), body)
    return _checkout_response(checkout)


def _payment(body: dict) -> tuple[object, object]:
    parsing.only_keys(body, {"payment"})
    payment = body.get("payment")
    if not isinstance(payment, dict):
        raise BadRequest('The body needs "payment": {"provider": …, "token": …}.')
    parsing.only_keys(payment, {"provider", "token"})
    return payment.get("provider"), payment.get("token")


def _placed_response(placed, status: int):
    body = {"order": order_json(orders.view(placed.order))}
    if placed.redirect:
        body["redirect"] = placed.redirect
    return jsonify(body), status


@bp.post("/checkout/complete")
def complete():
    body = parsing.body()
    provider, token = _payment(body)
    owner = shopper.current_owner()
    key = forms.idempotency(body, request.headers.get("Idempotency-Key"))
    # A repeated key is answered before the rate limit counts anything.
    placed = placing.earlier(owner, key)
    if placed is not None:
        return _placed_response(placed, 201)
    with checkout_completions:
        placed = placing.complete(
            owner,
            provider_name=provider,
            token=token,
            idempotency=key,
            expected_version=parsing.expected_version(),
        )
    placed_here.remember(placed.order.number)
    live.announce_order(owner, placed, origin=realtime.requesting_page())
    return _placed_response(placed, 201)


@bp.get("/orders")
def list_orders():
    return jsonify({"orders": [order_json(orders.view(o)) for o in placed_here.listed()]})


@bp.get("/orders/<number>")
def get_order(number: str):
    return jsonify(order_json(orders.view(placed_here.visible(number))))
