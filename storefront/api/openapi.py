"""OpenAPI 3.1 description of the JSON API."""

from __future__ import annotations

from functools import cache

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
            "source": {"type": "string", "enum": ["change", "merge", "restore", "support"]},
            "device": {"type": "string"},
        },
    },
    "History": {
        "type": "object",
        "required": ["revisions"],
        "properties": {"revisions": {"type": "array", "items": _ref("Revision")}},
    },
    "Restore": {
        "type": "object",
        "required": ["revision"],
        "additionalProperties": False,
        "properties": {"revision": {"type": "integer", "minimum": 0}},
    },
    "SetQuantity": {
        "type": "object",
        "required": ["quantity"],
        "additionalProperties": False,
        "properties": {"quantity": {"type": "integer", "minimum": 0}},
    },
}


@cache
def document() -> dict:
    return {
        "openapi": "3.1.0",
        "info": {"title": "storefront cart API", "version": "1"},
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
                    "summary": "The cart's revisions, newest first",
                    "parameters": [
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
                            "description": "Revisions still restorable.",
                            "content": {"application/json": {"schema": _ref("History")}},
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
        },
        "components": {"schemas": SCHEMAS},
    }
