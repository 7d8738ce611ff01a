"""What search engines and shared links read: meta descriptions on every page, a product's
schema.org data and Open Graph tags, canonical URLs, /sitemap.xml and /robots.txt."""

from __future__ import annotations

import html
import io
import json
import re
from xml.etree import ElementTree

import pytest
from PIL import Image
from sqlalchemy import update

from storefront.catalog.models import Product
from storefront.extensions import db

PUBLIC = "https://shop.example.com"


@pytest.fixture
def settings():
    return {"STOREFRONT_PUBLIC_URL": PUBLIC + "/", "STOREFRONT_SHOP_NAME": "Mug Shop"}


def meta(page: str, key: str, attribute: str = "name") -> list[str]:
    return [
        html.unescape(value)
        for value in re.findall(rf'<meta {attribute}="{re.escape(key)}" content="([^"]*)"', page)
    ]


def structured(page: str) -> dict:
    found = re.findall(r'<script type="application/ld\+json"[^>]*>(.*?)</script>', page, re.S)
    assert len(found) == 1
    return json.loads(found[0])


def set_product(app, sku: str, **values) -> None:
    with app.app_context():
        db.session.execute(update(Product).where(Product.sku == sku).values(**values))
        db.session.commit()


def test_a_product_page_uses_the_staff_meta_description(app, browser, make_product):
    sku = make_product(name="Blue Mug", description="A long text about the mug.")
    set_product(app, sku, meta_description="The bluest mug: 350 ml, dishwasher safe.")
    page = browser.page(f"/products/{sku}").get_data(as_text=True)
    assert meta(page, "description") == ["The bluest mug: 350 ml, dishwasher safe."]
    assert meta(page, "og:description", "property") == ["The bluest mug: 350 ml, dishwasher safe."]


def test_without_one_the_description_starts_the_product_text_cut_at_a_word(browser, make_product):
    words = "A sturdy stoneware mug glazed in deep blue, " * 10
    sku = make_product(name="Blue Mug", description=words)
    [description] = meta(browser.page(f"/products/{sku}").get_data(as_text=True), "description")
    assert len(description) <= 155 and description.endswith("…")
    assert words.startswith(description[:-1])
    assert not description[:-1].endswith(" ")


def test_without_any_text_a_sentence_names_the_product_and_the_shop(browser, make_product):
    sku = make_product(name="Blue Mug")
    [description] = meta(browser.page(f"/products/{sku}").get_data(as_text=True), "description")
    assert "Blue Mug" in description and "Mug Shop" in description


def test_every_page_has_a_meta_description(staff, browser, make_product):
    sku = make_product()
    browser.add(sku)
    for path in ("/", "/?q=mug", "/?page=2", "/cart", "/login", "/register", "/cart/history"):
        page = browser.page(path)
        assert page.status_code == 200, path
        [description] = meta(page.get_data(as_text=True), "description")
        assert len(description) > 40, path
    [admin] = meta(staff.page("/admin").get_data(as_text=True), "description")
    assert admin


def test_product_structured_data_matches_the_product(app, browser, make_product):
    sku = make_product(name="Blue </script> Mug", price="12.50", stock=4, description="Blue & tall")
    page = browser.page(f"/products/{sku}").get_data(as_text=True)
    data = structured(page)
    assert data["@context"] == "https://schema.org" and data["@type"] == "Product"
    assert data["name"] == "Blue </script> Mug" and data["sku"] == sku
    assert data["description"] == "Blue & tall"
    assert data["url"] == f"{PUBLIC}/products/{sku}"
    assert data["offers"] == {
        "@type": "Offer",
        "price": "12.50",
        "priceCurrency": "USD",
        "availability": "https://schema.org/InStock",
        "url": f"{PUBLIC}/products/{sku}",
    }
    assert "image" not in data
    # Nothing in the data can close the script element early.
    assert "</script> Mug" not in page


@pytest.mark.parametrize(
    ("stock", "active", "availability"),
    [
        (5, True, "InStock"),
        (0, True, "OutOfStock"),
        (5, False, "Discontinued"),
        (0, False, "Discontinued"),
    ],
)
def test_availability_follows_stock_and_retirement(
    app, browser, make_product, stock, active, availability
):
    sku = make_product(stock=stock, active=active)
    data = structured(browser.page(f"/products/{sku}").get_data(as_text=True))
    assert data["offers"]["availability"] == f"https://schema.org/{availability}"


def test_the_price_follows_a_change(app, browser, make_product):
    sku = make_product(price="5.78")
    set_product(app, sku, price_cents=499)
    page = browser.page(f"/products/{sku}").get_data(as_text=True)
    assert structured(page)["offers"]["price"] == "4.99"
    assert meta(page, "product:price:amount", "property") == ["4.99"]


def test_open_graph_and_canonical_on_a_product_page(app, staff, browser, make_product):
    sku = make_product(name="Blue Mug")
    out = io.BytesIO()
    Image.new("RGB", (1600, 800), (0, 0, 255)).save(out, "PNG")
    staff.form(
        f"/admin/products/{sku}/images",
        {
            "image": (io.BytesIO(out.getvalue()), "mug.png", "image/png"),
            "alt": "The mug, from the side",
        },
        content_type="multipart/form-data",
    )
    page = browser.page(f"/products/{sku}").get_data(as_text=True)
    assert f'<link rel="canonical" href="{PUBLIC}/products/{sku}">' in page
    assert meta(page, "og:type", "property") == ["product"]
    assert meta(page, "og:title", "property") == ["Blue Mug"]
    assert meta(page, "og:url", "property") == [f"{PUBLIC}/products/{sku}"]
    [image] = meta(page, "og:image", "property")
    assert re.fullmatch(rf"{PUBLIC}/media/[0-9a-f]{{32}}-1280\.jpg", image)
    assert meta(page, "og:image:type", "property") == ["image/jpeg"]
    assert meta(page, "twitter:card") == ["summary_large_image"]
    assert meta(page, "og:image:alt", "property") == ["The mug, from the side"]
    assert meta(page, "og:image:height", "property") == ["640"]
    assert structured(page)["image"] == [image]
    assert browser.client.get(image.removeprefix(PUBLIC)).status_code == 200


def test_the_catalog_has_a_canonical_address_and_searches_none(browser):
    assert f'<link rel="canonical" href="{PUBLIC}/">' in browser.page("/").get_data(as_text=True)
    assert f'<link rel="canonical" href="{PUBLIC}/?page=2">' in browser.page("/?page=2").get_data(
        as_text=True
    )
    assert 'rel="canonical"' not in browser.page("/?q=mug").get_data(as_text=True)


def test_the_policy_allows_no_inline_script_and_the_data_block_needs_none(browser, make_product):
    sku = make_product()
    response = browser.page(f"/products/{sku}")
    policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    # The only inline <script> is the JSON-LD data block, which browsers do not run.
    inline = re.findall(r"<script(?![^>]*\bsrc=)([^>]*)>", response.get_data(as_text=True))
    assert inline == [' type="application/ld+json" data-testid="product-structured-data"']


def test_the_sitemap_lists_the_catalog_and_every_product_on_sale(app, browser, make_product):
    retired = make_product(active=False)
    on_sale = make_product()
    response = browser.client.get("/sitemap.xml")
    assert response.status_code == 200
    assert response.mimetype == "application/xml"
    root = ElementTree.fromstring(response.data)
    namespace = {"s": "http://www.sitemaps.org/schemas/sitemap/0.9"}
    urls = [loc.text for loc in root.findall("s:url/s:loc", namespace)]
    assert urls[0] == f"{PUBLIC}/"
    assert f"{PUBLIC}/products/{on_sale}" in urls
    assert f"{PUBLIC}/products/{retired}" not in urls
    assert f"{PUBLIC}/products/DEMO-0001" in urls
    with app.app_context():
        active = db.session.query(Product).filter(Product.active.is_(True)).count()
    assert len(urls) == active + 1
    assert all(url.startswith(PUBLIC + "/") for url in urls)


def test_robots_lets_crawlers_see_the_catalog_but_not_private_pages(browser):
    response = browser.client.get("/robots.txt")
    assert response.status_code == 200 and response.mimetype == "text/plain"
    lines = response.get_data(as_text=True).splitlines()
    assert lines[0] == "User-agent: *"
    assert "Allow: /" in lines
    for private in ("/admin", "/api/", "/cart/", "/checkout/", "/account", "/orders"):
        assert f"Disallow: {private}" in lines
    # An empty cart to a crawler; see seo.PRIVATE_PATHS.
    assert "Disallow: /cart" not in lines and "Disallow: /checkout" not in lines
    assert not any(line in ("Disallow: /", "Disallow: /products") for line in lines)
    assert f"Sitemap: {PUBLIC}/sitemap.xml" in lines


def test_sitemap_and_robots_need_no_session(app):
    client = app.test_client()
    for path in ("/sitemap.xml", "/robots.txt"):
        response = client.get(path)
        assert response.status_code == 200
        assert "Set-Cookie" not in response.headers, path
