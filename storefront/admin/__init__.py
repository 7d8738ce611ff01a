"""The back office: staff run the shop from the browser (/admin) and over JSON (/api/v1/admin).

Importing the area modules registers their routes on the two blueprints."""

import storefront.admin.orders  # noqa: F401  (orders: list, detail, actions)
from storefront.admin import emails as _emails  # noqa: F401  (email previews)
from storefront.admin import routes  # noqa: F401  (dashboard and audit log)
from storefront.admin import rules as _rules  # noqa: F401  (coupons, shipping, tax)
from storefront.admin.blueprints import api_bp, bp

__all__ = ["api_bp", "bp"]
