"""Small request helpers shared by the HTML blueprints."""

from __future__ import annotations

import re
import secrets
from datetime import timedelta
from urllib.parse import urlsplit

from flask import Flask, current_app, g, request, url_for

from storefront import clock, money
from storefront.compact_markup import CompactMarkup


def whole_number(text: str, max_digits: int) -> int | None:
    """A non-negative whole number written in ASCII digits, or None. ``str.isdigit`` alone
    also accepts "²" and other digits ``int`` refuses (a 500 where a 4xx belongs)."""
    if text and text.isascii() and text.isdigit() and len(text) <= max_digits:
        return int(text)
    return None


def is_htmx() -> bool:
    return request.headers.get("HX-Request") == "true"


def safe_next(target: str | None, default: str) -> str:
    """Only same-site paths, so a crafted link cannot bounce a shopper to another site."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    parts = urlsplit(target)
    return default if parts.scheme or parts.netloc else target


# Characters a path segment carries as they are: line ids and SKUs are made of these.
PLAIN_SEGMENT = re.compile(r"[A-Za-z0-9._~-]{1,200}")
SLOT = "__row__"


def url_for_row(endpoint: str, name: str, value: str) -> str:
    """``url_for(endpoint, **{name: value})`` for a page of many rows: the URL is built once
    around a slot and filled in per row. A 1,000-line cart page built 5,000 URLs, a quarter of
    its time. A value that would need quoting takes the ordinary path."""
    if not PLAIN_SEGMENT.fullmatch(value):
        return url_for(endpoint, **{name: value})
    shape = _shape(endpoint, name)
    return shape[0] + value + shape[1]


def _shape(endpoint: str, name: str) -> list[str]:
    # Kept by the app for the script root it is served under (the only part of a path that
    # can differ between requests): every change's pushed fragment builds these URLs, and
    # building them once per request was a fifth of the fragment's time.
    key = (endpoint, name, request.script_root)
    shapes = current_app.extensions.setdefault("storefront.url_shapes", {})
    shape = shapes.get(key)
    if shape is None:
        shape = shapes[key] = url_for(endpoint, **{name: SLOT}).rsplit(SLOT, 1)
    return shape


def row_key(row: str, action: str) -> str:
    """The idempotency key of one row's form on a page of many: one random prefix per request,
    so each form of each render still has a key of its own (a resubmitted form is recognised,
    not applied twice) without 2,000 random draws for a 1,000-line cart."""
    if "row_key_prefix" not in g:
        g.row_key_prefix = secrets.token_urlsafe(16)
    return f"{g.row_key_prefix}.{row}.{action}"


def register_template_helpers(app: Flask) -> None:
    app.jinja_env.add_extension(CompactMarkup)  # before any template is loaded

    def price(minor: int, currency: str | None = None) -> str:
        """An amount in minor units, formatted for the shop's locale (Babel)."""
        config = app.config
        return money.format_money(minor, currency or config["CURRENCY"], config["LOCALE"])

    app.add_template_filter(price, "price")
    # A line's chosen options in words, "size: M, engraving: For Ada", wherever lines are shown.
    app.add_template_filter(
        lambda options: ", ".join(f"{name}: {value}" for name, value in dict(options).items()),
        "options_text",
    )
    from storefront.checkout.quoting import estimate

    app.add_template_global(estimate, "cart_estimate")
    # Every rendered form gets its own key: a resubmitted form is recognised, not applied twice.
    app.add_template_global(lambda: secrets.token_urlsafe(16), "new_key")
    app.add_template_global(url_for_row, "url_for_row")
    app.add_template_global(row_key, "row_key")
    app.add_template_global(clock.now, "now")
    app.add_template_global(timedelta(days=1), "one_day")
