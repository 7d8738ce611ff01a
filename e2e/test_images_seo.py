"""Product images and what search engines read, in a real browser: staff upload a picture on the
back-office page (a refusal said in words), shoppers see it on the catalog, product and cart
pages, lazily loaded, with a placeholder where a product has none; the product page's JSON-LD
is read by the browser without tripping the Content Security Policy. axe-core on every page."""

from __future__ import annotations

import io
import json
import re
from urllib.parse import urlsplit

from PIL import Image
from playwright.sync_api import Page, expect

from e2e.shop import add_to_cart, make_staff, new_email, register, visit
from e2e.test_accessibility import assert_accessible

PICTURED = "DEMO-1234"
PLAIN = "DEMO-1235"

# Every CSP violation the page reports, kept where the test can read it.
WATCH_CSP = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__cspViolations.push(e.violatedDirective + " " + (e.blockedURI || "inline"));
});
"""


def photo() -> bytes:
    image = Image.new("RGB", (1600, 1200), (20, 90, 160))
    for x in range(0, 1600, 100):  # a little detail, so the encoder has something to keep
        image.paste((240, 200, 40), (x, 0, x + 50, 1200))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85)
    return out.getvalue()


def layout_shift(page: Page) -> float:
    """The page's cumulative layout shift so far (shifts right after input do not count)."""
    return page.evaluate(
        """() => new Promise((resolve) => {
            new PerformanceObserver((list) => {
              resolve(list.getEntries().filter((e) => !e.hadRecentInput)
                .reduce((sum, e) => sum + e.value, 0));
            }).observe({type: "layout-shift", buffered: true});
            setTimeout(() => resolve(0), 1000);  // no entry at all: nothing shifted
        })"""
    )


def picture_arriving_late_shifts(page: Page, path: str) -> float:
    """Open ``path`` holding back its pictures until the page has been painted, then let them
    arrive: the layout shift they caused."""
    held = []
    page.route("**/media/**", lambda route: held.append(route))
    page.goto(path, wait_until="domcontentloaded")
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    page.evaluate("() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)))")
    assert held, "the page asked for no picture"
    for route in held:
        route.continue_()
    page.unroute("**/media/**")
    page.wait_for_function(
        "() => [...document.querySelectorAll('main img')].every((i) => i.complete)"
    )
    return layout_shift(page)


def images_page(page: Page, sku: str) -> None:
    visit(page, f"/admin/products/{sku}/images")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Images of")


def test_staff_upload_and_shoppers_see_the_picture_everywhere(new_device, shop_server, axe_source):
    staff = new_device(bypass_csp=True)  # axe is injected as a script the CSP would block
    make_staff(staff, shop_server)
    images_page(staff, PICTURED)
    assert_accessible(staff, axe_source)

    # A refusal first: an SVG, whatever its name says, is turned away in words.
    staff.get_by_label("Image file").set_input_files(
        {
            "name": "logo.png",
            "mimeType": "image/png",
            "buffer": b"<svg xmlns='http://www.w3.org/2000/svg'/>",
        }
    )
    staff.get_by_label("Alt text", exact=True).fill("Our logo")
    staff.get_by_role("button", name="Upload").click()
    expect(staff.get_by_test_id("upload-error")).to_contain_text("not a JPEG, PNG or WebP")
    expect(staff.get_by_label("Image file")).to_have_attribute("aria-invalid", "true")
    expect(staff.get_by_label("Alt text", exact=True)).to_have_value("Our logo")
    assert_accessible(staff, axe_source)

    staff.get_by_label("Image file").set_input_files(
        {"name": "mug.jpg", "mimeType": "image/jpeg", "buffer": photo()}
    )
    staff.get_by_label("Alt text", exact=True).fill("A blue mug with yellow stripes")
    staff.get_by_role("button", name="Upload").click()
    expect(staff.get_by_test_id("notice")).to_contain_text("The image was added.")
    expect(staff.get_by_test_id("admin-image")).to_have_count(1)
    expect(staff.get_by_role("img", name="A blue mug with yellow stripes")).to_be_visible()
    assert_accessible(staff, axe_source)

    # The shopper's product page: the picture, loaded, from the srcset.
    shopper = new_device()
    shopper.add_init_script(WATCH_CSP)
    visit(shopper, f"/products/{PICTURED}")
    picture = shopper.locator("main img.product-image")
    expect(picture).to_have_attribute("alt", "A blue mug with yellow stripes")
    expect(picture).to_have_attribute("width", "640")
    expect(picture).to_have_attribute("height", "480")
    shopper.wait_for_function("() => document.querySelector('main img.product-image').complete")
    loaded = picture.evaluate("img => ({w: img.naturalWidth, src: img.currentSrc})")
    # naturalWidth is in CSS pixels once srcset picked a rendition for the sizes given.
    assert loaded["w"] > 0, loaded
    assert re.search(r"/media/[0-9a-f]{32}-(320|640|1280)\.webp$", loaded["src"]), loaded

    # Structured data read as the browser holds it, and no policy violation on the way.
    data = json.loads(shopper.locator('script[type="application/ld+json"]').text_content())
    shown_price = shopper.locator(".product .price").inner_text()
    assert data["@type"] == "Product" and data["sku"] == PICTURED
    assert data["offers"]["price"] in shown_price.replace(",", "")
    assert data["offers"]["availability"] == "https://schema.org/InStock"
    assert data["image"][0].endswith("-1280.jpg")
    # Absolute from STOREFRONT_PUBLIC_URL, which this test server does not set: its path here.
    preview = shopper.request.get(urlsplit(data["image"][0]).path)
    assert preview.ok and preview.headers["content-type"] == "image/jpeg"
    description = shopper.locator('meta[name="description"]').get_attribute("content")
    assert description and len(description) <= 155
    assert shopper.evaluate("() => window.__cspViolations") == []

    # Width and height reserve the picture's box before it arrives: nothing below it moves.
    assert picture_arriving_late_shifts(shopper, f"/products/{PICTURED}") < 0.01

    # The catalog: the pictured card lazily loaded, the plain one a decorative placeholder.
    visit(shopper, "/?q=DEMO-123")
    card_image = shopper.locator(".product-card", has_text=PICTURED).locator("img")
    expect(card_image).to_have_attribute("loading", "lazy")
    expect(card_image).to_have_attribute("alt", "A blue mug with yellow stripes")
    plain_card = shopper.locator(".product-card", has_text=PLAIN)
    expect(plain_card.get_by_test_id("image-placeholder")).to_have_attribute("aria-hidden", "true")
    expect(plain_card.locator("img")).to_have_count(0)

    # The cart: each line with its picture or the placeholder.
    add_to_cart(shopper, PICTURED)
    add_to_cart(shopper, PLAIN)
    visit(shopper, "/cart")
    line = shopper.locator(f'[data-testid="cart-line"][data-sku="{PICTURED}"] img')
    expect(line).to_have_attribute("sizes", "4rem")
    expect(line).to_have_attribute("loading", "lazy")
    plain_line = shopper.locator(f'[data-testid="cart-line"][data-sku="{PLAIN}"]')
    expect(plain_line.get_by_test_id("image-placeholder")).to_be_attached()
    assert shopper.evaluate("() => window.__cspViolations") == []


def test_pages_with_pictures_have_no_serious_violations(new_device, axe_source):
    page = new_device(bypass_csp=True)
    register(page, new_email("images-axe"))
    add_to_cart(page, PLAIN)
    for path in (f"/products/{PICTURED}", f"/products/{PLAIN}", "/?q=DEMO-123", "/cart"):
        visit(page, path)
        assert_accessible(page, axe_source)


def test_robots_and_sitemap_are_served(new_device):
    page = new_device()
    robots = page.request.get("/robots.txt")
    assert robots.ok and "Disallow: /admin" in robots.text()
    sitemap = page.request.get("/sitemap.xml")
    assert sitemap.ok and f"/products/{PICTURED}</loc>" in sitemap.text()
