from __future__ import annotations

from flask import Blueprint, abort, render_template, request

from storefront.catalog import changes, services
from storefront.web import is_htmx, whole_number

bp = Blueprint("catalog", __name__)
# One wording of availability for the pages and the live changes that update them.
bp.add_app_template_global(changes.availability, "availability")


def _page_number(raw: str | None) -> int:
    return whole_number(raw, 6) or 1


@bp.get("/")
def index():
    query = request.args.get("q", "")[:100]
    page = services.search(query, _page_number(request.args.get("page")))
    if is_htmx() and request.headers.get("HX-Target") == "results":
        # Only the results travel; the heading and title follow out of band.
        return render_template("catalog/_results.html", page=page, query=query, partial=True)
    return render_template("catalog/index.html", page=page, query=query)


@bp.get("/products/<sku>")
def product(sku: str):
    found = services.by_sku(sku)
    if found is None:
        abort(404)
    return render_template("catalog/product.html", product=found)
