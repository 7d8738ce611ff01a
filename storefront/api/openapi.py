"""OpenAPI 3.1 description of the JSON API."""

from __future__ import annotations

from functools import cache

from storefront.checkout.details import ADDRESS_FIELDS
from storefront.checkout.providers.base import PaymentStatus
from storefront.orders.services import STATUS_WORDS

ERROR_CODES = [
    "bad_request",
    "csrf_failed",
    "not_found",
    "out_of_stock",
    "line_limit",
    "quantity_limit",
    "version_conflict",
    "unknown_sku",
    "invalid_quantity",
    "invalid_option",
    "idempotency_key_reused",
    "rate_limited",
    "invalid_moment",  # the cart at a moment: unreadable, naive, future or before the window
    # Checkout and orders.
    "payment_declined",
    "empty_cart",
    "checkout_in_progress",
    "checkout_incomplete",
    "invalid_email",
    "invalid_address",
    "unknown_shipping_method",
    "shipping_unavailable",
    "invalid_coupon",
    "unknown_payment_provider",
    "payment_unavailable",
]


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _error(description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": _ref("Error")}}}


# Where a line id comes from: a whole cart lists its lines (a minimal answer lists none).
LINE_LINKS = {
    "SetQuantityOfFirstLine": {
        "operationId": "setQuantity",
        "parameters": {"line_id": "$response.body#/lines/0/id"},
        "description": "Change the quantity of the cart's first line.",
    },
    "RemoveFirstLine": {
        "operationId": "removeLine",
        "parameters": {"line_id": "$response.body#/lines/0/id"},
        "description": "Remove the cart's first line.",
    },
}


def _cart_result(links: bool = False) -> dict:
    result = {
        "description": "The cart (or, with Prefer: return=minimal, its summary).",
        "headers": {"ETag": {"schema": {"type": "string"}, "description": 'The version, "7".'}},
        "content": {"application/json": {"schema": {"anyOf": [_ref("Cart"), _ref("CartSummary")]}}},
    }
    if links:
        result["links"] = LINE_LINKS
    return result


MUTATION_ERRORS = {
    "400": _error("Malformed JSON or wrong shape."),
    "403": _error("Missing or wrong CSRF token."),
    "404": _error("No such line in this cart."),
    "409": _error("Out of stock, or a quantity or line limit reached."),
    "412": _error("If-Match named a version the cart has moved past."),
    "413": _error("Body over 64 KB."),
    "422": _error("Unknown SKU, invalid quantity or option, or an idempotency key reused."),
    "429": _error("Too many changes; slow down."),
}

# The grammar storefront.api.routes.IF_MATCH accepts: one quoted cart version. Anything else,
# the empty string included, is 400 bad_request.
IF_MATCH_PATTERN = r'^\s*"[0-9]{1,18}"\s*$'
# The grammar of a SKU (storefront.catalog.services.SKU); a string outside it is no product.
SKU_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"

MUTATION_PARAMETERS = [
    {"name": "Idempotency-Key", "in": "header", "schema": {"type": "string", "maxLength": 200}},
    {
        "name": "If-Match",
        "in": "header",
        "description": 'The cart version the client last saw, quoted: "7".',
        "schema": {"type": "string", "pattern": IF_MATCH_PATTERN, "examples": ['"7"']},
    },
    {"name": "Prefer", "in": "header", "schema": {"type": "string"}},
    {"name": "X-CSRF-Token", "in": "header", "required": True, "schema": {"type": "string"}},
]


def _mutation(
    operation_id: str,
    summary: str,
    body: dict | None = None,
    path_line: bool = False,
    links: bool = False,
) -> dict:
    operation = {
        "operationId": operation_id,
        "summary": summary,
        "parameters": list(MUTATION_PARAMETERS),
        "responses": {"200": _cart_result(links), **MUTATION_ERRORS},
    }
    if path_line:
        operation["parameters"].append(
            {
                "name": "line_id",
                "in": "path",
                "required": True,
                "schema": {"type": "string", "minLength": 1, "maxLength": 64},
            }
        )
    if body:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": body}},
        }
    return operation


SCHEMAS = {
    "Money": {"type": "string", "pattern": r"^-?\d+\.\d{2}$"},
    "Line": {
        "type": "object",
        "required": [
            "id",
            "sku",
            "name",
            "quantity",
            "unit_price",
            "options",
            "line_total",
            "available",
        ],
        "properties": {
            "id": {"type": "string"},
            "sku": {"type": "string"},
            "name": {"type": "string"},
            "quantity": {"type": "integer", "minimum": 1},
            "unit_price": _ref("Money"),
            "options": {"type": "object", "additionalProperties": {"type": "string"}},
            "line_total": _ref("Money"),
            "available": {"type": "boolean"},
        },
    },
    "Cart": {
        "type": "object",
        "required": ["version", "currency", "item_count", "subtotal", "lines"],
        "properties": {
            "version": {"type": "integer", "minimum": 0},
            "currency": {"type": "string"},
            "item_count": {"type": "integer", "minimum": 0},
            "subtotal": _ref("Money"),
            "lines": {"type": "array", "items": _ref("Line")},
        },
    },
    "CartSummary": {
        "type": "object",
        "required": ["version", "item_count", "subtotal"],
        "properties": {
            "version": {"type": "integer"},
            "item_count": {"type": "integer"},
            "subtotal": _ref("Money"),
        },
    },
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {
                    "code": {"type": "string", "enum": ERROR_CODES},
                    "message": {"type": "string"},
                    "skus": {
                        "description": "out_of_stock at checkout: the SKUs that fell short.",
                        "type": "array",
                        "items": {"type": "string"},
                    },
                    "fields": {
                        "description": "checkout_incomplete and refused checkout details: the "
                        "fields concerned, by their form names.",
                        "type": "array",
                        "items": {"type": "string"},
                    },
                },
            }
        },
    },
    "AddLine": {
        "type": "object",
        "required": ["sku", "quantity"],
        "additionalProperties": False,
        "properties": {
            "sku": {"type": "string", "minLength": 1, "maxLength": 64, "pattern": SKU_PATTERN},
            "quantity": {"type": "integer", "minimum": 1},
            "options": {"type": "object", "additionalProperties": {"type": "string"}},
        },
    },
    "Revision": {
        "type": "object",
        "required": ["revision", "at", "summary", "source", "device"],
        "properties": {
            "revision": {"type": "integer", "minimum": 1},
            "at": {"type": "string", "format": "date-time"},
            "summary": {"type": "string"},
            "source": {
                "type": "string",
                "enum": ["change", "merge", "restore", "support", "order"],
            },
            "device": {"type": "string"},
            "by": {
                "type": "string",
                "description": 'Who made it, for a revision made while the cart was shared: "You" '
                "or the other account's name.",
            },
        },
    },
    "History": {
        "type": "object",
        "required": ["revisions"],
        "properties": {"revisions": {"type": "array", "items": _ref("Revision")}},
    },
    "Restore": {
        "oneOf": [
            {
                "type": "object",
                "required": ["revision"],
                "additionalProperties": False,
                "properties": {"revision": {"type": "integer", "minimum": 0}},
            },
            {
                "type": "object",
                "required": ["at"],
                "additionalProperties": False,
                "properties": {"at": {"type": "string", "format": "date-time"}},
            },
        ]
    },
    "Moment": {
        "type": "object",
        "required": ["at", "revision", "cart"],
        "properties": {
            "at": {"type": "string", "format": "date-time"},
            "revision": {"type": "integer", "minimum": 0},
            "cart": _ref("Cart"),
        },
    },
    "SetQuantity": {
        "type": "object",
        "required": ["quantity"],
        "additionalProperties": False,
        "properties": {"quantity": {"type": "integer", "minimum": 0}},
    },
}


# Checkout and orders (CONTRACT.md, "Checkout and orders").

TEXT_OR_NULL = {"type": ["string", "null"]}
PAYMENT_STATUSES = [str(s) for s in PaymentStatus]
ORDER_STATUSES = list(STATUS_WORDS)
ORDER_NUMBER_PATTERN = r"^[0-9]{1,18}$"

SCHEMAS.update(
    {
        "Address": {
            "type": "object",
            "required": ADDRESS_FIELDS,
            "properties": {
                **{name: {"type": "string"} for name in ADDRESS_FIELDS},
                "country": {
                    "type": "string",
                    "description": "ISO 3166-1 alpha-2, upper case; empty until given.",
                },
            },
        },
        "AddressChanges": {
            "description": "Any of the address fields; a field not sent keeps its value, "
            "null or empty text clears it. Text is NFC-normalised and trimmed, at most 200 "
            "characters, without control characters; country is an ISO 3166-1 alpha-2 code "
            "(any case). Anything else is 422 invalid_address.",
            "type": "object",
            "additionalProperties": False,
            "properties": {name: TEXT_OR_NULL for name in ADDRESS_FIELDS},
        },
        "CheckoutChanges": {
            "description": "Any of the checkout's details; those not sent keep their value. "
            "The first refused field answers 422 (invalid_email, invalid_address, "
            "unknown_shipping_method, shipping_unavailable, invalid_coupon) and nothing is "
            "kept.",
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "email": TEXT_OR_NULL,
                "phone": TEXT_OR_NULL,
                "address": _ref("AddressChanges"),
                "shipping_method": {**TEXT_OR_NULL, "description": "A shipping method's id."},
                "coupon": {**TEXT_OR_NULL, "description": "A coupon code; null removes it."},
            },
        },
        "ShippingMethod": {
            "type": "object",
            "required": ["id", "name", "price", "free_from", "needs_address"],
            "properties": {
                "id": {"type": "string"},
                "name": {"type": "string"},
                "price": _ref("Money"),
                "free_from": {"anyOf": [_ref("Money"), {"type": "null"}]},
                "needs_address": {"type": "boolean"},
            },
        },
        "OrderedLine": {
            "type": "object",
            "required": ["sku", "name", "options", "quantity", "unit_price", "line_total"],
            "properties": {
                "sku": {"type": "string"},
                "name": {"type": "string"},
                "options": {"type": "object", "additionalProperties": {"type": "string"}},
                "quantity": {"type": "integer", "minimum": 1},
                "unit_price": _ref("Money"),
                "line_total": _ref("Money"),
            },
        },
        "Problem": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {
                    "type": "string",
                    "enum": [
                        "out_of_stock",
                        "unavailable",
                        "shipping_unavailable",
                        "invalid_coupon",
                    ],
                },
                "message": {"type": "string"},
                "sku": {"type": "string"},
            },
        },
        "Checkout": {
            "type": "object",
            "required": [
                "cart_version",
                "currency",
                "email",
                "address",
                "phone",
                "shipping_method",
                "shipping_methods",
                "coupon",
                "lines",
                "subtotal",
                "discount",
                "shipping",
                "tax",
                "total",
                "problems",
            ],
            "properties": {
                "cart_version": {"type": "integer", "minimum": 0},
                "currency": {"type": "string"},
                "email": {"type": "string"},
                "address": _ref("Address"),
                "phone": {"type": "string"},
                "shipping_method": {
                    "type": ["string", "null"],
                    "description": "The chosen method, else the first on offer; null when "
                    "no method serves the country.",
                },
                "shipping_methods": {"type": "array", "items": _ref("ShippingMethod")},
                "coupon": {"type": ["string", "null"]},
                "lines": {"type": "array", "items": _ref("OrderedLine")},
                "subtotal": _ref("Money"),
                "discount": _ref("Money"),
                "shipping": _ref("Money"),
                "tax": _ref("Money"),
                "tax_included": {
                    **_ref("Money"),
                    "description": "With prices that include tax: how much of the total is tax.",
                },
                "total": _ref("Money"),
                "problems": {"type": "array", "items": _ref("Problem")},
            },
        },
        "Complete": {
            "type": "object",
            "required": ["payment"],
            "additionalProperties": False,
            "properties": {
                "payment": {
                    "type": "object",
                    "required": ["provider"],
                    "additionalProperties": False,
                    "properties": {
                        "provider": {
                            "type": "string",
                            "description": "One of the shop's STOREFRONT_PAYMENT_PROVIDERS; "
                            "any other is 422 unknown_payment_provider.",
                            "examples": ["test", "manual"],
                        },
                        "token": {
                            "type": ["string", "null"],
                            "maxLength": 200,
                            "description": "The test provider's card token: tok_ok… is "
                            "captured, tok_declined… declined (402), tok_error… fails (502).",
                            "examples": ["tok_declined", "tok_error", "tok_ok"],
                        },
                    },
                }
            },
        },
        "Order": {
            "type": "object",
            "required": [
                "number",
                "status",
                "email",
                "currency",
                "lines",
                "subtotal",
                "discount",
                "shipping",
                "tax",
                "total",
                "payment",
                "placed_at",
            ],
            "properties": {
                "number": {"type": "string", "pattern": ORDER_NUMBER_PATTERN},
                "status": {"type": "string", "enum": ORDER_STATUSES},
                "email": {"type": "string"},
                "currency": {"type": "string"},
                "lines": {"type": "array", "items": _ref("OrderedLine")},
                "subtotal": _ref("Money"),
                "discount": _ref("Money"),
                "shipping": _ref("Money"),
                "tax": _ref("Money"),
                "tax_included": _ref("Money"),
                "total": _ref("Money"),
                "shipping_method": {"type": "string"},
                "coupon": {"type": ["string", "null"]},
                "address": {"type": "object", "additionalProperties": {"type": "string"}},
                "payment": {
                    "type": "object",
                    "required": ["provider", "status"],
                    "properties": {
                        "provider": {"type": "string"},
                        "status": {"type": "string", "enum": PAYMENT_STATUSES},
                    },
                },
                "placed_at": {"type": "string", "format": "date-time"},
                "held_until": {
                    "type": "string",
                    "format": "date-time",
                    "description": "A pending order: until when its stock is held.",
                },
                "tracking": {
                    "type": "string",
                    "description": "The tracking note staff gave when they fulfilled it.",
                },
                "refunded": {
                    **_ref("Money"),
                    "description": "How much was refunded so far (partial refunds keep the "
                    "status; the one that reaches the total makes it refunded).",
                },
            },
        },
        "Placed": {
            "type": "object",
            "required": ["order"],
            "properties": {
                "order": _ref("Order"),
                "redirect": {
                    "type": "string",
                    "description": "Where to send the shopper to pay (a redirecting provider).",
                },
            },
        },
        "Orders": {
            "type": "object",
            "required": ["orders"],
            "properties": {"orders": {"type": "array", "items": _ref("Order")}},
        },
    }
)


def _json(description: str, schema: dict, **extra) -> dict:
    return {
        "description": description,
        "content": {"application/json": {"schema": schema}},
        **extra,
    }


ETAG = {"ETag": {"schema": {"type": "string"}, "description": 'The cart version, "7".'}}
CSRF_PARAMETER = next(p for p in MUTATION_PARAMETERS if p["name"] == "X-CSRF-Token")
ORDER_LINK = {
    "GetPlacedOrder": {
        "operationId": "getOrder",
        "parameters": {"number": "$response.body#/order/number"},
        "description": "The order just placed.",
    }
}


def _checkout_paths() -> dict:
    return {
        "/checkout": {
            "get": {
                "operationId": "getCheckout",
                "summary": "The checkout: details, shipping methods, totals and problems",
                "responses": {
                    "200": _json("The checkout.", _ref("Checkout"), headers=ETAG),
                },
            },
            "put": {
                "operationId": "updateCheckout",
                "summary": "Change any of the checkout's details; the others keep their value",
                "parameters": [CSRF_PARAMETER],
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": _ref("CheckoutChanges")}},
                },
                "responses": {
                    "200": _json("The checkout.", _ref("Checkout"), headers=ETAG),
                    "400": _error("Malformed JSON, or a field that is not a detail."),
                    "403": _error("Missing or wrong CSRF token."),
                    "409": _error("empty_cart: there is no cart to check out."),
                    "413": _error("Body over 64 KB."),
                    "422": _error(
                        "invalid_email, invalid_address, unknown_shipping_method, "
                        "shipping_unavailable or invalid_coupon (with fields); nothing is kept."
                    ),
                },
            },
        },
        "/checkout/complete": {
            "post": {
                "operationId": "completeCheckout",
                "summary": "Place the order and pay for it",
                "parameters": [p for p in MUTATION_PARAMETERS if p["name"] != "Prefer"],
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": _ref("Complete")}},
                },
                "responses": {
                    "201": _json(
                        "The order placed (or, for a repeated Idempotency-Key, the first "
                        "request's order).",
                        _ref("Placed"),
                        links=ORDER_LINK,
                    ),
                    "400": _error("Malformed JSON or wrong shape."),
                    "402": _error("payment_declined: nothing was charged, nothing changed."),
                    "403": _error("Missing or wrong CSRF token."),
                    "409": _error("empty_cart, checkout_in_progress, or out_of_stock (with skus)."),
                    "412": _error("If-Match named a version the cart has moved past."),
                    "413": _error("Body over 64 KB."),
                    "422": _error(
                        "checkout_incomplete (with fields), unknown_payment_provider, "
                        "invalid_coupon, shipping_unavailable, or idempotency_key_reused."
                    ),
                    "429": _error("Too many order attempts; slow down."),
                    "502": _error(
                        "payment_unavailable: the payment provider could not be reached; "
                        "nothing was charged, nothing changed."
                    ),
                },
            }
        },
        "/orders": {
            "get": {
                "operationId": "listOrders",
                "summary": "The shopper's orders (a guest's: those this browser placed), "
                "newest first",
                "responses": {
                    "200": _json(
                        "The orders.",
                        _ref("Orders"),
                        links={
                            "GetNewestOrder": {
                                "operationId": "getOrder",
                                "parameters": {"number": "$response.body#/orders/0/number"},
                                "description": "The newest order listed.",
                            }
                        },
                    )
                },
            }
        },
        "/orders/{number}": {
            "get": {
                "operationId": "getOrder",
                "summary": "One order: its owner's, staff's, or the browser's that placed it",
                "parameters": [
                    {
                        "name": "number",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string", "minLength": 1, "maxLength": 64},
                    }
                ],
                "responses": {
                    "200": _json("The order.", _ref("Order")),
                    "404": _error(
                        "No such order, or not this shopper's: the same answer either way."
                    ),
                },
            }
        },
    }


@cache
def document() -> dict:
    return {
        "openapi": "3.1.0",
        "info": {"title": "storefront cart and checkout API", "version": "1"},
        "servers": [{"url": "/api/v1"}],
        "paths": {
            "/cart": {
                "get": {
                    "operationId": "getCart",
                    "summary": "The cart",
                    "responses": {"200": _cart_result(links=True)},
                },
                "delete": _mutation("emptyCart", "Empty the cart"),
            },
            "/cart/lines": {
                "post": _mutation(
                    "addLine",
                    "Add a line (or add to the matching line)",
                    _ref("AddLine"),
                    links=True,
                )
            },
            "/cart/history": {
                "get": {
                    "operationId": "history",
                    "summary": "The cart's revisions, newest first; or, with at, the cart then",
                    "parameters": [
                        {
                            "name": "at",
                            "in": "query",
                            "schema": {"type": "string", "format": "date-time", "maxLength": 40},
                        },
                        {
                            "name": "before",
                            "in": "query",
                            "schema": {"type": "integer", "minimum": 1, "maximum": 2**31 - 1},
                        },
                        {
                            "name": "limit",
                            "in": "query",
                            "schema": {"type": "integer", "minimum": 1, "maximum": 200},
                        },
                    ],
                    "responses": {
                        "200": {
                            "description": "Revisions still restorable (with at: the cart then).",
                            "content": {
                                "application/json": {
                                    "schema": {"oneOf": [_ref("History"), _ref("Moment")]}
                                }
                            },
                            "links": {
                                "RestoreNewest": {
                                    "operationId": "restore",
                                    "requestBody": {
                                        "revision": "$response.body#/revisions/0/revision"
                                    },
                                    "description": "Bring back the newest revision listed.",
                                }
                            },
                        },
                        "400": _error("before or limit out of range."),
                        "422": _error(
                            "at unreadable, without its offset, outside the window, or given "
                            "with before or limit."
                        ),
                    },
                }
            },
            "/cart/restore": {
                "post": _mutation(
                    "restore", "Bring back the cart as it was at a revision", _ref("Restore")
                )
            },
            "/cart/lines/{line_id}": {
                "patch": _mutation(
                    "setQuantity", "Set a line's quantity; 0 removes it", _ref("SetQuantity"), True
                ),
                "delete": _mutation("removeLine", "Remove a line", None, True),
            },
            **_checkout_paths(),
        },
        "components": {"schemas": SCHEMAS},
    }
