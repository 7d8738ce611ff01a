"""What a shopper does, in a few words each: open a product, add it, read the cart, sign in.

Every wait is on the page (Playwright's auto-waiting and ``expect``), never on a clock.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal

from playwright.sync_api import Locator, Page, expect

PASSWORD = "correct horse battery staple"
MONEY = re.compile(r"(\d[\d,]*\.\d{2})")


def new_email(label: str) -> str:
    return f"{label}-{secrets.token_hex(6)}@example.com"


def money(text: str) -> Decimal:
    """The decimal amount in a text such as "$35.38" or "Subtotal: $1,234.50"."""
    found = MONEY.search(text)
    assert found, f"no amount in {text!r}"
    return Decimal(found.group(1).replace(",", ""))


def badge(page: Page) -> Locator:
    return page.get_by_test_id("cart-count")


def notice(page: Page) -> Locator:
    return page.get_by_test_id("notice")


def cart_line(page: Page, sku: str) -> Locator:
    return page.locator(f'[data-testid="cart-line"][data-sku="{sku}"]')


def subtotal(page: Page) -> Decimal:
    return money(page.get_by_test_id("cart-subtotal").inner_text())


def _check(response, what: str, status: int) -> None:
    assert response is not None, f"{what}: no response"
    assert response.status == status, f"{what}: HTTP {response.status}, expected {status}"


def visit(page: Page, path: str, status: int = 200) -> None:
    """Open a page; a server error fails at once instead of waiting for elements."""
    _check(page.goto(path), f"GET {path}", status)


def reload(page: Page) -> None:
    _check(page.reload(), f"reload {page.url}", 200)


@dataclass(frozen=True)
class Product:
    sku: str
    name: str
    price: Decimal


def open_product(page: Page, sku: str) -> Product:
    visit(page, f"/products/{sku}")
    expect(page.get_by_text(f"SKU {sku}")).to_be_visible()
    name = page.locator("h1").inner_text().strip()
    price = money(page.locator(".product .price").inner_text())
    return Product(sku, name, price)


def add_to_cart(page: Page, sku: str, quantity: int = 1, **options: str) -> Product:
    """Open the product page and add it, the way a shopper would. Works with and without
    JavaScript: waits until the badge shows the new total either way."""
    product = open_product(page, sku)
    before = int(badge(page).inner_text())
    for name, value in options.items():
        field = page.locator(f'[name="option-{name}"]')
        if field.evaluate("el => el.tagName") == "SELECT":
            field.select_option(value)
        else:
            field.fill(value)
    page.get_by_test_id("add-quantity").fill(str(quantity))
    page.get_by_test_id("add-to-cart").click()
    expect(badge(page)).to_have_text(str(before + quantity))
    return product


@contextmanager
def same_page(page: Page) -> Iterator[None]:
    """Asserts that what happens inside does not load a new document (htmx, not a reload)."""
    token = secrets.token_hex(8)
    page.evaluate("token => { window.__e2eSamePage = token; }", token)
    loads: list[str] = []

    def on_load(frame_page: Page) -> None:
        loads.append(frame_page.url)

    page.on("load", on_load)
    try:
        yield
    finally:
        page.remove_listener("load", on_load)
    assert not loads, f"the page was reloaded: {loads}"
    assert page.evaluate("() => window.__e2eSamePage") == token, "the page was reloaded"


def register(page: Page, email: str, password: str = PASSWORD) -> None:
    visit(page, "/register")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_text(f"Signed in as {email}")).to_be_visible()


def sign_in(page: Page, email: str, password: str = PASSWORD) -> None:
    visit(page, "/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_text(f"Signed in as {email}")).to_be_visible()


def sign_out(page: Page) -> None:
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("link", name="Sign in")).to_be_visible()
    expect(badge(page)).to_have_text("0")


def cart_contents(page: Page) -> dict[str, int]:
    """{sku: quantity} as /cart shows it."""
    visit(page, "/cart")
    expect(page.get_by_role("heading", name="Your cart")).to_be_visible()
    contents = {}
    for line in page.get_by_test_id("cart-line").all():
        sku = line.get_attribute("data-sku")
        contents[sku] = int(line.get_by_test_id("line-quantity").input_value())
    return contents
