"""Reading the cart's HTML forms into service arguments."""

from __future__ import annotations

import json
import re

from flask import request

from storefront.cart.types import IdempotencyKey
from storefront.errors import BadRequest, InvalidQuantity
from storefront.web import whole_number

WHOLE_NUMBER = re.compile(r"^[+-]?\d{1,30}$")
GUARD_FIELDS = {"csrf_token", "idempotency_key", "version"}
MAX_KEY_LENGTH = 200


def quantity(name: str = "quantity", default: str | None = None) -> int:
    raw = request.form.get(name, default)
    text = (raw or "").strip()
    if not WHOLE_NUMBER.match(text):
        raise InvalidQuantity("Quantity must be a whole number.")
    return int(text)


def options() -> dict[str, str]:
    return {
        key.removeprefix("option-"): value
        for key, value in request.form.items()
        if key.startswith("option-")
    }


def request_fingerprint(body: object) -> bytes:
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return f"{request.method} {request.path} {canonical}".encode("utf-8", "surrogatepass")


def idempotency(body: object, key: str | None) -> IdempotencyKey | None:
    if key is None or key == "":
        return None
    if len(key) > MAX_KEY_LENGTH:
        raise BadRequest(f"An idempotency key is at most {MAX_KEY_LENGTH} characters.")
    return IdempotencyKey(key, request_fingerprint(body))


def form_idempotency() -> IdempotencyKey | None:
    """Pages put a fresh key in every form, so a resubmitted form is not applied twice."""
    body = sorted((k, v) for k, v in request.form.items(multi=True) if k not in GUARD_FIELDS)
    key = request.headers.get("Idempotency-Key") or request.form.get("idempotency_key")
    return idempotency(body, key)


def shown_version() -> int | None:
    """The cart version the page was showing; recorded, never used to refuse a change."""
    raw = request.form.get("version", "")
    return whole_number(raw, 11)
