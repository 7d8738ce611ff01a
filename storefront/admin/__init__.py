"""The back office: staff run the shop from the browser (/admin) and over JSON (/api/v1/admin).

Importing an area's module registers its routes on the two blueprints: the dashboard and the
audit log (routes), orders, products and their images, coupons/shipping/tax (rules), email
previews, the analytics page and its JSON (analytics_page, analytics_api)."""

from storefront.admin import (  # noqa: F401
    analytics_api,
    analytics_page,
    emails,
    images,
    orders,
    products,
    routes,
    rules,
)
from storefront.admin.blueprints import api_bp, bp

__all__ = ["api_bp", "bp"]
