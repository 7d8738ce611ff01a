"""What a shopper does, in a few words each: open a product, add it, read the cart, sign in.

Every wait is on the page (Playwright's auto-waiting and ``expect``), never on a clock.
"""

from __future__ import annotations

import re
import secrets
import time
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
    # The page shows an add at once, marked pending, before the server has it (optimistic.js):
    # a shopper who moves on now may still lose it, so wait for the server's answer.
    expect(badge(page)).not_to_have_attribute("aria-busy", "true")
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
    page.get_by_label("Email", exact=True).fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_text(f"Signed in as {email}")).to_be_visible()


def make_staff(page: Page, server) -> None:
    """A new account registered on ``page``, given the staff role (``users grant-staff``) on
    ``server`` (a LiveServer): the back office is one navigation away."""
    email = new_email("staff")
    register(page, email)
    server.flask("users", "grant-staff", email)


def sign_in(page: Page, email: str, password: str = PASSWORD) -> None:
    visit(page, "/login")
    page.get_by_label("Email", exact=True).fill(email)
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


# --- live sync ------------------------------------------------------------------------------

ELSEWHERE = "on another device"


def sync_status(page: Page) -> Locator:
    return page.get_by_test_id("sync-status")


def wait_connected(page: Page) -> None:
    """The page's live socket is open (the indicator says so, in its attribute and in words)."""
    status = sync_status(page)
    expect(status).to_have_attribute("data-state", "connected")
    expect(status).to_contain_text("connected")


def line_quantity(page: Page, sku: str) -> Locator:
    return cart_line(page, sku).get_by_test_id("line-quantity")


def set_quantity(page: Page, sku: str, quantity: int) -> None:
    """Type a new quantity on /cart and press Enter (htmx posts it); waits for the answer."""
    field = line_quantity(page, sku)
    with page.expect_response(
        lambda r: "/cart/lines/" in r.url and r.request.method == "POST"
    ) as answer:
        field.fill(str(quantity))
        field.press("Enter")
    assert answer.value.status == 200, f"set {sku} to {quantity}: HTTP {answer.value.status}"
    # The answer has arrived; its swap may not have: a next quantity typed into the line being
    # replaced would be lost with it (a next set_quantity right away never sent its request).
    page.wait_for_function(
        "() => !document.querySelector('.htmx-request, .htmx-swapping, .htmx-settling')"
    )


def remove_line(page: Page, sku: str) -> None:
    with page.expect_response(lambda r: r.url.endswith("/remove")) as answer:
        cart_line(page, sku).get_by_test_id("line-remove").click()
    assert answer.value.status == 200, f"remove {sku}: HTTP {answer.value.status}"


def clear_cart(page: Page) -> None:
    with page.expect_response(lambda r: r.url.endswith("/cart/clear")) as answer:
        page.get_by_test_id("cart-clear").click()
    assert answer.value.status == 200, f"clear: HTTP {answer.value.status}"


def api_cart(page: Page) -> dict:
    """The cart as the server keeps it, read over the JSON API with this device's cookies."""
    response = page.request.get("/api/v1/cart")
    assert response.status == 200, f"GET /api/v1/cart: HTTP {response.status}"
    return response.json()


def api_history(page: Page, limit: int = 50) -> list[dict]:
    """The cart's revisions, newest first, over the JSON API."""
    response = page.request.get(f"/api/v1/cart/history?limit={limit}")
    assert response.status == 200, f"GET /api/v1/cart/history: HTTP {response.status}"
    return response.json()["revisions"]


def api_contents(page: Page) -> dict[str, int]:
    return {line["sku"]: line["quantity"] for line in api_cart(page)["lines"]}


def shown_contents(page: Page) -> dict[str, int]:
    """{sku: quantity} as the open page shows it now (no navigation)."""
    return {
        line.get_attribute("data-sku"): int(line.get_by_test_id("line-quantity").input_value())
        for line in page.get_by_test_id("cart-line").all()
    }


def expect_lines(page: Page, contents: dict[str, int], timeout: float | None = None) -> None:
    """Waits until the open /cart page shows exactly these lines and quantities, and the badge
    their total."""
    expect(page.get_by_test_id("cart-line")).to_have_count(len(contents), timeout=timeout)
    for sku, quantity in contents.items():
        expect(line_quantity(page, sku)).to_have_value(str(quantity), timeout=timeout)
    expect(badge(page)).to_have_text(str(sum(contents.values())), timeout=timeout)


def record_notices(page: Page) -> None:
    """Remember every text the notice region shows from now on (until the page navigates)."""
    page.evaluate(
        """() => {
          const el = document.getElementById('notice');
          window.__e2eNotices = [];
          new MutationObserver(() => window.__e2eNotices.push(el.textContent.trim()))
            .observe(el, {childList: true, subtree: true, characterData: true});
        }"""
    )


def notices_seen(page: Page) -> list[str]:
    return page.evaluate("() => window.__e2eNotices || []")


def open_live(page: Page, path: str) -> None:
    """Open a page, wait for its live socket, and start recording what its notice says."""
    visit(page, path)
    wait_connected(page)
    record_notices(page)


def api_add(page: Page, sku: str, quantity: int = 1) -> dict:
    """Add over the JSON API with this device's cookies (no page id: every open page of the
    shopper hears of it as a change from elsewhere)."""
    token = page.request.get("/api/v1/cart").headers["x-csrf-token"]
    response = page.request.post(
        "/api/v1/cart/lines",
        data={"sku": sku, "quantity": quantity},
        headers={"X-CSRF-Token": token},
    )
    assert response.status == 200, f"API add {sku}: HTTP {response.status} {response.text()}"
    return response.json()


def api_add_each(page: Page, skus: list[str]) -> None:
    """One unit of each SKU over the JSON API, as fast as the shop's cart rate limit allows
    (a 429 says in Retry-After when to send the same change again)."""
    token = page.request.get("/api/v1/cart").headers["x-csrf-token"]
    for sku in skus:
        while True:
            response = page.request.post(
                "/api/v1/cart/lines",
                data={"sku": sku, "quantity": 1},
                headers={"X-CSRF-Token": token, "Prefer": "return=minimal"},
            )
            if response.status != 429:
                break
            time.sleep(float(response.headers.get("retry-after", "1")))
        assert response.status == 200, f"API add {sku}: HTTP {response.status} {response.text()}"


def count_pushes(page: Page) -> None:
    """From now on count the pushed messages (pings aside) this page receives:
    ``window.__e2eReceived`` as each arrives, ``window.__e2eHandled`` once it has been handled
    (htmx handles a message synchronously, so a zero-delay timer runs after it)."""
    page.evaluate(
        """() => {
          window.__e2eReceived = 0;
          window.__e2eHandled = 0;
          document.addEventListener('htmx:wsBeforeMessage', (e) => {
            if (e.detail.message.includes('data-control="ping"')) return;
            window.__e2eReceived += 1;
            setTimeout(() => { window.__e2eHandled += 1; }, 0);
          });
        }"""
    )


def pushes_received(page: Page) -> int:
    return page.evaluate("() => window.__e2eReceived")


def pushes_handled(page: Page) -> int:
    return page.evaluate("() => window.__e2eHandled")


def wait_pushes_handled(page: Page, at_least: int) -> None:
    page.wait_for_function("n => window.__e2eHandled >= n", arg=at_least)


class SocketTap:
    """Stands between one device (or one page) and /ws (``route_web_socket``): everything
    passes through, except that what the server sends can be held back and delivered later, as
    a slow or reordering network would (``hold_next``, ``release``). With ``lose_closes`` set,
    the server closing a socket never reaches the page, which goes on thinking it is connected
    (a half-open connection). Hello and ping messages always pass."""

    def __init__(self, target) -> None:
        self.to_hold = 0
        self.lose_closes = False
        self.held: list[tuple[object, str | bytes]] = []
        self.connections = 0
        target.route_web_socket(re.compile(r"/ws$"), self._route)

    def _route(self, page_side) -> None:
        server = page_side.connect_to_server()
        self.connections += 1

        def from_server(message) -> None:
            if self.to_hold and isinstance(message, str) and 'id="cart-state"' in message:
                self.to_hold -= 1
                self.held.append((page_side, message))
            else:
                page_side.send(message)

        def server_closed(code, reason) -> None:
            if not self.lose_closes:
                page_side.close(code=code, reason=reason)

        server.on_message(from_server)
        server.on_close(server_closed)

    def hold_next(self, count: int = 1) -> None:
        self.to_hold = count

    def release(self) -> int:
        """Stop holding; deliver what was held, in the order it came, each message on the
        socket it came for."""
        held, self.held = self.held, []
        self.to_hold = 0
        for page_side, message in held:
            page_side.send(message)
        return len(held)


class SocketBlock:
    """A network that turns /ws away for one device (or page), as some proxies do: each socket
    opens and is closed before the server's first message. ``blocked = False`` lets the next
    sockets through to the server. ``block_streams()`` turns Server-Sent Events away too."""

    def __init__(self, target) -> None:
        self.target = target
        self.blocked = True
        self.turned_away = 0
        target.route_web_socket(re.compile(r"/ws$"), self._route)

    def _route(self, ws) -> None:
        if self.blocked:
            self.turned_away += 1
            ws.close(code=1013)
        else:
            ws.connect_to_server()  # unhandled messages pass both ways untouched

    def block_streams(self) -> None:
        self.target.route("**/live/events", lambda route: route.abort("connectionrefused"))


def wait_fallback(page: Page, timeout: float = 15_000) -> None:
    """The page, its socket blocked, is connected through the fallback (SSE or polling)."""
    status = sync_status(page)
    expect(status).to_have_attribute("data-state", "fallback", timeout=timeout)
    expect(status).to_contain_text("Connected (fallback)")


# --- checkout -------------------------------------------------------------------------------

TOTALS = ("subtotal", "discount", "shipping", "tax", "total")


@dataclass(frozen=True)
class Shipping:
    """What the checkout form asks for a parcel: contact and address (country an ISO code)."""

    email: str
    name: str = "Ada Lovelace"
    address_line1: str = "12 Analytical Row"
    city: str = "Springfield"
    postal_code: str = "12345"
    country: str = "US"


# The checkout's text fields, by their labels: exactly ("Address" is not "Address, second
# line"), but for the star a required field's label ends with (hidden from screen readers).
CHECKOUT_LABELS = {
    "email": "Email",
    "name": "Full name",
    "address_line1": "Address",
    "city": "City",
    "postal_code": "Postal code",
    "coupon": "Coupon code (optional)",
    "payment_token": "Test card token",
}


def checkout_label(label: str) -> re.Pattern:
    return re.compile(rf"^{re.escape(label)}(\s*\*)?$")


def checkout_field(page: Page, name: str) -> Locator:
    return page.get_by_label(checkout_label(CHECKOUT_LABELS[name]))


def checkout_amount(page: Page, which: str) -> Decimal:
    """One of the checkout's live totals (``TOTALS``), as the page shows it now."""
    return money(page.get_by_test_id(f"checkout-{which}").inner_text())


def checkout_totals(page: Page) -> dict[str, Decimal]:
    return {which: checkout_amount(page, which) for which in TOTALS}


def count_swaps(page: Page) -> None:
    """From now on count the htmx swaps this page has finished (``window.__e2eSettled``)."""
    page.evaluate(
        """() => {
          window.__e2eSettled = 0;
          document.body.addEventListener('htmx:afterSettle', () => { window.__e2eSettled += 1; });
        }"""
    )


@contextmanager
def repriced(page: Page) -> Iterator[None]:
    """What happens inside changes a checkout field: waits until htmx has re-priced the page and
    swapped the answer in (so the next field is typed into the new form, not the old one)."""
    before = page.evaluate("() => window.__e2eSettled")
    assert before is not None, "call open_checkout (or count_swaps) first"
    yield
    page.wait_for_function("n => window.__e2eSettled > n", arg=before)


def open_checkout(page: Page, *, live: bool = True) -> None:
    """Open /checkout; ``live`` (JavaScript on): wait for the socket and count htmx swaps."""
    visit(page, "/checkout")
    expect(page.get_by_role("heading", name="Checkout", level=1)).to_be_visible()
    if live:
        wait_connected(page)
        count_swaps(page)


def fill_checkout(page: Page, shipping: Shipping, *, live: bool = True) -> None:
    """Type the contact and address and pick the country, as a shopper would (with the mouse).
    With JavaScript on, each change re-prices the page: wait for it before the next field."""
    for name in ("email", "name", "address_line1", "city", "postal_code"):
        field = checkout_field(page, name)
        if live:
            with repriced(page):
                field.fill(getattr(shipping, name))
                field.blur()  # leaving the field is what fires its change
        else:
            field.fill(getattr(shipping, name))
    country = page.get_by_label(checkout_label("Country"))
    if live:
        with repriced(page):
            country.select_option(shipping.country)
    else:
        country.select_option(shipping.country)


def choose_method(page: Page, method: str, *, live: bool = True) -> None:
    radio = page.get_by_test_id(f"shipping-method-{method}")
    if live and not radio.is_checked():  # checking a checked radio changes nothing
        with repriced(page):
            radio.check()
    else:
        radio.check()
    expect(page.get_by_test_id(f"shipping-method-{method}")).to_be_checked()


def place_order(page: Page, token: str, status: int = 200) -> None:
    """Pick the test card, give its token and press "Place order" (a plain form POST); waits
    for the page it lands on, which answered with ``status``."""
    page.get_by_test_id("payment-test").check()
    checkout_field(page, "payment_token").fill(token)
    with page.expect_navigation() as landed:
        page.get_by_test_id("checkout-place").click()
    _check(landed.value, f"place order with {token}", status)


def order_number(page: Page) -> str:
    """The number of the order whose page is open."""
    number = page.get_by_test_id("order-number")
    expect(number).to_have_text(re.compile(r"^\d+$"))
    return number.inner_text()
