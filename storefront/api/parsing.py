"""What every JSON API route reads from a request the same way: the body, If-Match, the
allowed fields; and the CSRF token every API GET hands to same-origin scripts."""

from __future__ import annotations

import json
import re

from flask import request
from flask_wtf.csrf import generate_csrf

from storefront.errors import BadRequest

IF_MATCH = re.compile(r'^\s*"(\d{1,18})"\s*$')


def offer_csrf_token(response):
    # Same-origin scripts can read it; other origins cannot (no CORS), so it is safe to hand out.
    if request.method == "GET":
        response.headers["X-CSRF-Token"] = generate_csrf()
    return response


def body() -> dict:
    raw = request.get_data(cache=True)
    try:
        parsed = json.loads(raw) if raw else None
    except (ValueError, RecursionError):
        raise BadRequest("The body is not valid JSON.") from None
    if not isinstance(parsed, dict):
        raise BadRequest("The body must be a JSON object.")
    return parsed


def expected_version() -> int | None:
    header = request.headers.get("If-Match")
    if header is None:
        return None
    match = IF_MATCH.match(header)
    if not match:
        raise BadRequest('If-Match must be a quoted cart version, like "7".')
    return int(match.group(1))


def only_keys(given: dict, allowed: set[str]) -> None:
    unknown = sorted(set(given) - allowed)
    if unknown:
        shown = ", ".join(k[:40] for k in unknown[:5])
        raise BadRequest(f"Unknown field(s): {shown}. Allowed: {', '.join(sorted(allowed))}.")
