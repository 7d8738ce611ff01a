"""The back office: staff run the shop from the browser (/admin) and over JSON (/api/v1/admin).

Importing the area modules registers their routes on the two blueprints."""

import storefront.admin.products  # noqa: F401  (products, stock, CSV)
from storefront.admin import routes  # noqa: F401  (dashboard and audit log)
from storefront.admin.blueprints import api_bp, bp

__all__ = ["api_bp", "bp"]
