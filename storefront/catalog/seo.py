"""What search engines and shared links read: a page's description, a product's schema.org data
and Open Graph facts, /sitemap.xml and /robots.txt. Addresses in them are absolute, built from
STOREFRONT_PUBLIC_URL: a crawler or a chat app has no "current page" to resolve them against.
"""

from __future__ import annotations

from collections.abc import Iterator
from xml.sax.saxutils import escape

from flask import Blueprint, Flask, Response, current_app, url_for
from sqlalchemy import select

from storefront import money
from storefront.catalog.images import Picture
from storefront.catalog.models import Product
from storefront.extensions import db
from storefront.web import url_for_row

bp = Blueprint("seo", __name__)

# Search engines show about this much of a description; longer is cut mid-word by them.
DESCRIPTION_LENGTH = 155
SCHEMA = "https://schema.org/"
# Pages that are one shopper's own, or staff's: nothing there for a search engine. The cart and
# checkout pages themselves are not among them: without a shopper's cookie they show an empty
# cart, so crawling them reveals nothing, and blocking them would fail their search-engine audit
# (Lighthouse's is-crawlable); what hangs below them (history, reminder links) stays blocked.
PRIVATE_PATHS = (
    "/admin",
    "/api/",
    "/cart/",
    "/checkout/",
    "/account",
    "/orders",
    "/saved",
    "/support",
    "/share/",
    "/h/",
    "/password/",
    "/payments/",
    "/ws",
)


def absolute(path: str) -> str:
    return current_app.config["PUBLIC_URL"] + path


def shorten(text: str, limit: int = DESCRIPTION_LENGTH) -> str:
    """The text on one line, cut at a word boundary with an ellipsis when too long."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[: limit - 1].rsplit(" ", 1)[0].rstrip(",;:.-–— ")
    return cut + "…"


def product_description(product: Product) -> str:
    """Staff's own meta description, else the start of the description, else a sentence."""
    if product.meta_description.strip():
        return shorten(product.meta_description)
    if product.description.strip():
        return shorten(product.description)
    shop = current_app.config["SHOP_NAME"]
    return f"{product.name} ({product.sku}) at {shop}: its price, availability and how to order."


def availability(product: Product) -> str:
    if not product.active:
        return SCHEMA + "Discontinued"
    return SCHEMA + ("InStock" if product.stock > 0 else "OutOfStock")


def product_url(product: Product) -> str:
    return absolute(url_for("catalog.product", sku=product.sku))


def image_url(picture: Picture) -> str:
    return absolute(picture.share_url)


def structured_data(product: Product, pictures: list[Picture]) -> dict:
    """schema.org Product, as JSON-LD: what search engines show as a rich result."""
    currency = current_app.config["CURRENCY"]
    data = {
        "@context": "https://schema.org",
        "@type": "Product",
        "name": product.name,
        "sku": product.sku,
        "description": product_description(product),
        "url": product_url(product),
    }
    if pictures:
        data["image"] = [image_url(picture) for picture in pictures]
    data["offers"] = {
        "@type": "Offer",
        "price": money.to_decimal_text(product.price_cents, currency),
        "priceCurrency": currency,
        "availability": availability(product),
        "url": product_url(product),
    }
    return data


def price_text(product: Product) -> str:
    return money.to_decimal_text(product.price_cents, current_app.config["CURRENCY"])


# ---- /sitemap.xml and /robots.txt ---------------------------------------------------------


@bp.get("/sitemap.xml")
def sitemap():
    return Response("".join(_sitemap_lines()), mimetype="application/xml")


def _sitemap_lines() -> Iterator[str]:
    """The catalog and every product on sale. (One file holds up to 50,000 addresses.)"""
    skus = db.session.scalars(
        select(Product.sku).where(Product.active.is_(True)).order_by(Product.sku)
    )
    yield '<?xml version="1.0" encoding="UTF-8"?>\n'
    yield '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n'
    yield f"  <url><loc>{escape(absolute(url_for('catalog.index')))}</loc></url>\n"
    for sku in skus:
        loc = escape(absolute(url_for_row("catalog.product", "sku", sku)))
        yield f"  <url><loc>{loc}</loc></url>\n"
    yield "</urlset>\n"


@bp.get("/robots.txt")
def robots():
    lines = ["User-agent: *", "Allow: /"]
    lines += [f"Disallow: {path}" for path in PRIVATE_PATHS]
    lines += ["", f"Sitemap: {absolute(url_for('seo.sitemap'))}", ""]
    return Response("\n".join(lines), mimetype="text/plain")


def register_template_helpers(app: Flask) -> None:
    app.add_template_global(product_description, "seo_description")
    app.add_template_global(structured_data, "seo_structured_data")
    app.add_template_global(absolute, "absolute_url")
    app.add_template_global(price_text, "seo_price")
