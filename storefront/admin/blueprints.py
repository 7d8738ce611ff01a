"""The back office's two blueprints, guarded for staff only (guard.py). Each area of the back
office (orders.py, products.py, rules.py, ...) adds its pages to ``bp`` and its JSON to
``api_bp``."""

from __future__ import annotations

from flask import Blueprint

from storefront.admin.guard import api_for_staff_only, pages_for_staff_only

bp = Blueprint("admin", __name__, url_prefix="/admin")
bp.before_request(pages_for_staff_only)

api_bp = Blueprint("admin_api", __name__, url_prefix="/api/v1/admin")
api_bp.before_request(api_for_staff_only)
