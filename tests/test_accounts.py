"""Register, sign in (merge), sign out, and the idle timeout."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from storefront import clock
from storefront.cart import models as m
from storefront.cart.types import Source
from storefront.extensions import db
from tests.helpers import Browser

EMAIL = "ada@example.com"


def cookie(browser) -> str:
    return browser.client.get_cookie("storefront").value


def account_with(app, items: dict[str, int]) -> None:
    """An account holding these items, made on a device that then signs out."""
    device = Browser(app.test_client())
    device.register(EMAIL)
    for sku, quantity in items.items():
        assert device.add(sku, quantity).status_code == 200
    device.logout()


def test_registering_turns_the_guest_cart_into_the_account_cart(app, browser, make_product):
    sku = make_product()
    browser.add(sku, 2)
    response = browser.register(EMAIL)
    assert response.status_code == 302
    assert [(x["sku"], x["quantity"]) for x in browser.cart()["lines"]] == [(sku, 2)]
    with app.app_context():
        cart = db.session.scalar(select(m.Cart))
        assert cart.user_id is not None and cart.guest_key is None


def test_signing_in_merges_the_guest_cart_as_one_revision_and_says_what_happened(
    app, browser, make_product
):
    honey_mug = make_product(name="Honey Mug")
    scarce = make_product(stock=3)
    guest_only = make_product()
    account_with(app, {honey_mug: 1, scarce: 2})
    browser.add(honey_mug, 2)
    browser.add(scarce, 3)
    browser.add(guest_only, 1)
    response = browser.form("/login", {"email": EMAIL, "password": "correct horse battery"})
    assert response.status_code == 302 and response.location.endswith("/cart")
    html = browser.page("/cart").get_data(as_text=True)
    cart = browser.cart()
    assert [(x["sku"], x["quantity"]) for x in cart["lines"]] == [
        (honey_mug, 3),
        (scarce, 3),
        (guest_only, 1),
    ]
    assert "2 × Honey Mug" in html and "kept 1 of 3 (not enough in stock)" in html
    with app.app_context():
        merges = db.session.scalars(
            select(m.CartRevision).where(m.CartRevision.source == Source.MERGE)
        ).all()
        guest = db.session.scalar(select(m.Cart).where(m.Cart.user_id.is_(None)))
    assert len(merges) == 1 and merges[0].version == cart["version"]
    assert guest.status == "merged"


def test_after_sign_in_the_old_guest_cookie_opens_nothing_and_the_session_is_replaced(
    app, browser, make_product
):
    account_with(app, {})
    browser.add(make_product(), 2)
    guest_cookie = cookie(browser)
    browser.login(EMAIL)
    assert cookie(browser) != guest_cookie
    thief = app.test_client()
    thief.set_cookie("storefront", guest_cookie)
    assert thief.get("/api/v1/cart").json["item_count"] == 0


def test_an_empty_guest_cart_merges_nothing_and_makes_no_revision(app, browser, make_product):
    account_with(app, {make_product(): 1})
    browser.page("/")
    browser.login(EMAIL)
    cart = browser.cart()
    assert cart["version"] == 1 and cart["item_count"] == 1


def test_a_second_device_signing_in_sees_the_same_cart(app, browser, other_browser, make_product):
    browser.register(EMAIL)
    browser.add(make_product(), 2)
    other_browser.login(EMAIL)
    assert other_browser.cart() == browser.cart()
    other_browser.add(make_product(), 1)
    assert browser.cart()["item_count"] == 3


def test_a_wrong_password_or_unknown_email_gets_the_same_answer(app, browser):
    account_with(app, {})
    wrong = browser.form("/login", {"email": EMAIL, "password": "nope nope nope"})
    unknown = browser.form("/login", {"email": "who@example.com", "password": "nope nope nope"})
    assert wrong.status_code == unknown.status_code == 401
    assert "do not match an account" in wrong.get_data(as_text=True)
    assert "do not match an account" in unknown.get_data(as_text=True)


def test_registration_refuses_bad_input_and_taken_emails(app, browser):
    account_with(app, {})
    for email, password in (
        (EMAIL, "long enough pw"),
        ("not-an-email", "long enough pw"),
        ("x@example.com", "short"),
    ):
        response = browser.form("/register", {"email": email, "password": password})
        assert response.status_code == 422
        assert 'role="alert"' in response.get_data(as_text=True)


def test_signing_out_ends_this_devices_session_even_for_a_copied_cookie(app, browser, make_product):
    browser.register(EMAIL)
    browser.add(make_product())
    copied = cookie(browser)
    browser.logout()
    assert browser.cart()["item_count"] == 0
    thief = app.test_client()
    thief.set_cookie("storefront", copied)
    assert thief.get("/api/v1/cart").json["item_count"] == 0


def test_the_idle_timeout_signs_out_and_the_cart_stays_with_the_account(app, browser, make_product):
    browser.register(EMAIL)
    browser.add(make_product(), 2)
    clock.advance(timedelta(minutes=25))
    assert browser.cart()["item_count"] == 2  # a request renews the session
    clock.advance(timedelta(minutes=25))
    assert browser.cart()["item_count"] == 2
    clock.advance(timedelta(minutes=31))
    html = browser.page("/").get_data(as_text=True)
    assert "signed out after a while without activity" in html and "Sign in" in html
    assert browser.cart()["item_count"] == 0
    browser.login(EMAIL)
    assert browser.cart()["item_count"] == 2


def test_next_only_redirects_within_the_shop(app, browser):
    account_with(app, {})
    response = browser.form(
        "/login",
        {"email": EMAIL, "password": "correct horse battery", "next": "https://evil.example/"},
    )
    assert response.location == "/"
