"""Small request helpers shared by the HTML blueprints."""

from __future__ import annotations

import secrets
from datetime import timedelta
from decimal import Decimal
from urllib.parse import urlsplit

from flask import Flask, request

from storefront import clock


def is_htmx() -> bool:
    return request.headers.get("HX-Request") == "true"


def safe_next(target: str | None, default: str) -> str:
    """Only same-site paths, so a crafted link cannot bounce a shopper to another site."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    parts = urlsplit(target)
    return default if parts.scheme or parts.netloc else target


def register_template_helpers(app: Flask) -> None:
    app.add_template_filter(lambda amount: f"{Decimal(amount):,.2f}", "money")
    # Every rendered form gets its own key: a resubmitted form is recognised, not applied twice.
    app.add_template_global(lambda: secrets.token_urlsafe(16), "new_key")
    app.add_template_global(clock.now, "now")
    app.add_template_global(timedelta(days=1), "one_day")
