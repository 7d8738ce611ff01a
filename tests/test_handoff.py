"""Handoff: a guest's cart continued on another device by its QR link or its short code,
single use, ten minutes, rate limited, stored hashed; every refusal clear and harmless."""

from __future__ import annotations

import logging
import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from storefront import clock
from storefront.cart.models import Cart as CartRow
from storefront.extensions import db
from storefront.handoff import codes
from storefront.handoff.models import HandoffCode
from tests.helpers import Browser
from tests.test_checkout import complete, ready

CODE = re.compile(r'data-testid="handoff-code"[^>]*>([^<]+)<')
HTTPS = "https://localhost"  # as the app sees a request behind TLS


@pytest.fixture
def settings():
    return {"STOREFRONT_PAYMENT_PROVIDERS": "test,manual"}


def new_browser(app) -> Browser:
    browser = Browser(app.test_client())
    browser.ensure_csrf()
    return browser


def show_code(browser) -> tuple[str, str]:
    """Open the handoff page: (the code shown, the page)."""
    response = browser.page("/cart/handoff")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    return CODE.search(html).group(1), html


def join(browser, code: str):
    return browser.form("/cart/handoff", {"code": code})


def skus(browser) -> list[tuple[str, int]]:
    return [(x["sku"], x["quantity"]) for x in browser.cart()["lines"]]


def refused(response, reason: str, status: int = 409):
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.headers["X-Error-Code"] == "handoff_refused"
    return response.get_data(as_text=True)


def test_the_page_shows_a_short_code_and_a_qr_code_of_its_link(browser, make_product):
    browser.add(make_product())
    code, html = show_code(browser)
    assert re.fullmatch(f"[{codes.ALPHABET}]{{6}}", code)
    assert not set(code) & set("01OIL")
    svg = re.search(r"<svg [^>]*data-testid=\"handoff-qr\"[^>]*>", html).group(0)
    assert 'role="img"' in svg and f"/h/{code}" in svg  # its name says where it leads
    assert f'href="http://localhost/h/{code}"' in html
    assert "ten minutes" in html


def test_an_empty_cart_gets_no_code_and_a_visit_makes_no_cart(app, browser):
    page = browser.page("/cart/handoff")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'data-testid="handoff-empty"' in html and 'data-testid="handoff-code"' not in html
    assert 'name="code"' in html  # joining another device's cart still works from here
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(HandoffCode)) == 0
        assert db.session.scalar(select(func.count()).select_from(CartRow)) == 0


def test_a_code_never_reaches_the_access_log(app, browser, make_product, caplog):
    browser.add(make_product())
    code, _ = show_code(browser)
    with caplog.at_level(logging.INFO):
        assert new_browser(app).page(f"/h/{code}").status_code == 200
    lines = "\n".join(r.getMessage() + str(r.__dict__) for r in caplog.records)
    assert "/h/<code>" in lines and code not in lines


def test_the_qr_link_asks_first_and_joins_only_when_confirmed(app, browser, make_product):
    sku = make_product()
    browser.add(sku, 2)
    code, _ = show_code(browser)
    phone = new_browser(app)
    for _ in range(2):  # a link previewer opening it uses nothing up
        confirm = phone.page(f"/h/{code}")
        assert confirm.status_code == 200
        assert confirm.headers["Cache-Control"] == "no-store"
        assert "noindex" in confirm.headers["X-Robots-Tag"]
        html = confirm.get_data(as_text=True)
        assert confirm.headers["Referrer-Policy"] == "strict-origin"  # the code stays here
        assert 'data-testid="handoff-confirm"' in html
    assert phone.cart()["lines"] == []
    response = join(phone, code)
    assert response.status_code == 302 and response.location.endswith("/cart")
    assert skus(phone) == [(sku, 2)]
    assert "a change on either shows on both" in phone.page("/cart").get_data(as_text=True)


def test_over_https_the_link_page_sends_its_origin_not_its_code_and_its_form_joins(
    app, browser, make_product
):
    """Behind TLS, CSRF protection refuses a form post without a Referer of the shop's origin
    (Flask-WTF's strict check). The page holding the code sends only its origin, so its button
    still joins (a page sending no Referer at all could never join: e2e/test_proxy.py)."""
    sku = make_product()
    browser.add(sku, 2)
    code, _ = show_code(browser)
    phone = Browser(app.test_client())
    confirm = phone.page(f"/h/{code}", base_url=HTTPS)
    assert confirm.headers["Referrer-Policy"] == "strict-origin"
    refused = phone.form("/cart/handoff", {"code": code}, base_url=HTTPS)  # no Referer
    assert refused.status_code == 403
    assert "did not say this came from a page of this shop" in refused.get_data(as_text=True)
    assert phone.api("GET", "/cart", base_url=HTTPS).json["lines"] == []  # nothing joined
    origin_only = {"Referer": f"{HTTPS}/"}
    joined = phone.form("/cart/handoff", {"code": code}, base_url=HTTPS, headers=origin_only)
    assert joined.status_code == 302, joined.get_data(as_text=True)
    lines = phone.api("GET", "/cart", base_url=HTTPS).json["lines"]
    assert [(x["sku"], x["quantity"]) for x in lines] == [(sku, 2)]


def test_both_devices_then_share_the_cart_and_its_live_channel(
    app, browser, make_product, published
):
    first, second = make_product(), make_product()
    browser.add(first)
    code, _ = show_code(browser)
    phone = new_browser(app)
    join(phone, code.lower()[:3] + " " + code.lower()[3:])  # typed loosely: still the code
    phone.add(second, 3)
    assert skus(browser) == [(first, 1), (second, 3)]
    browser.api("DELETE", f"/cart/lines/{browser.line_id(first)}")
    assert skus(phone) == [(second, 3)]
    channels = {channel for channel, _ in published[-2:]}
    assert len(channels) == 1 and channels.pop().startswith("guest:")


def test_what_the_joining_device_held_is_added_to_the_cart(app, browser, make_product):
    theirs, mine = make_product(name="Desk Lamp"), make_product()
    browser.add(theirs, 1)
    code, _ = show_code(browser)
    phone = new_browser(app)
    phone.add(mine, 2)
    phone.add(theirs, 1)
    join(phone, code)
    assert skus(browser) == [(theirs, 2), (mine, 2)]
    assert "What this device held before was added" in phone.page("/cart").get_data(as_text=True)


def test_a_code_works_once(app, browser, make_product):
    browser.add(make_product())
    code, _ = show_code(browser)
    join(new_browser(app), code)
    late = new_browser(app)
    text = refused(join(late, code), "used")
    assert "already been used" in text
    assert late.cart()["lines"] == []


def test_a_code_expires_after_ten_minutes(app, browser, make_product):
    browser.add(make_product())
    code, _ = show_code(browser)
    clock.advance(timedelta(minutes=10, seconds=1))
    phone = new_browser(app)
    assert "expired" in refused(join(phone, code), "expired")
    assert phone.cart()["lines"] == []


def test_a_new_code_voids_the_one_before(app, browser, make_product):
    browser.add(make_product())
    old, _ = show_code(browser)
    new, _ = show_code(browser)
    assert join(new_browser(app), old).status_code == 404
    assert join(new_browser(app), new).status_code == 302


def test_joining_ones_own_cart_is_refused_and_leaves_the_code_usable(app, browser, make_product):
    browser.add(make_product())
    code, _ = show_code(browser)
    assert "already has" in refused(join(browser, code), "own_cart")
    assert join(new_browser(app), code).status_code == 302


def test_a_code_for_a_cart_ordered_since_is_refused(app, browser, make_product):
    sku = make_product()
    ready(browser, sku)
    code, _ = show_code(browser)
    assert complete(browser).status_code == 201
    phone = new_browser(app)
    assert "ordered" in refused(join(phone, code), "ordered")
    assert phone.cart()["lines"] == []


def test_a_code_for_a_cart_taken_into_an_account_is_refused(app, browser, make_product):
    browser.add(make_product())
    code, _ = show_code(browser)
    browser.register("ada@example.com")
    assert "belongs to an account" in refused(join(new_browser(app), code), "merged")


def test_signed_in_shoppers_are_told_they_need_no_code(app, browser, make_product):
    guest = new_browser(app)
    guest.add(make_product())
    code, _ = show_code(guest)
    browser.register("ada@example.com")
    html = browser.page("/cart/handoff").get_data(as_text=True)
    assert 'data-testid="handoff-signed-in"' in html and 'data-testid="handoff-code"' not in html
    assert "signed in" in refused(join(browser, code), "signed_in")
    assert join(new_browser(app), code).status_code == 302  # still usable by a guest


@pytest.mark.parametrize(
    ("typed", "status"),
    [("", 400), ("ABC", 400), ("ABCDE0", 400), ("Z" * 5000, 400), ("ZZZZZZ", 404)],
)
def test_codes_that_cannot_be_one_or_are_unknown_are_refused(app, browser, typed, status):
    browser.ensure_csrf()
    response = join(browser, typed)
    assert response.status_code == status
    assert "handoff code" in response.get_data(as_text=True)


def test_the_form_needs_its_csrf_token_and_a_forged_cookie_opens_nothing(
    app, browser, make_product
):
    browser.add(make_product())
    code, _ = show_code(browser)
    phone = new_browser(app)
    response = phone.client.post("/cart/handoff", data={"code": code})
    assert response.status_code == 403
    forged = Browser(app.test_client())
    forged.client.set_cookie("session", "eyJndWVzdCI6ImZvcmdlZCJ9.forged.sig")
    assert forged.cart()["lines"] == []
    assert join(phone, code).status_code == 302  # the refused attempts used nothing


def test_a_link_that_cannot_be_a_code_is_a_clear_400(browser):
    response = browser.page("/h/not-a-code!")
    assert response.status_code == 400 and "handoff code" in response.get_data(as_text=True)


def test_guessing_is_rate_limited_per_address_even_with_fresh_cookies(app):
    statuses = [join(new_browser(app), "ZZZZZZ").status_code for _ in range(11)]
    assert statuses[:10] == [404] * 10 and statuses[10] == 429


def test_codes_are_stored_only_as_keyed_hashes(app, browser, make_product):
    browser.add(make_product())
    code, _ = show_code(browser)
    with app.app_context():
        row = db.session.scalar(select(HandoffCode))
        assert row.code_hash == codes.code_hash(code)
        stored = b"".join(
            value for value in (row.code_hash, row.sealed) if isinstance(value, bytes)
        )
        assert code.encode() not in stored and code.lower().encode() not in stored
        assert row.expires_at - row.created_at == timedelta(minutes=10)
