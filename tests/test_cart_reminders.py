"""Cart reminders: once per idle period to shoppers who allowed them, checked again before
sending, a link that shows that exact cart with what changed, brings it back, and a one-click
unsubscribe."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import update

from storefront import clock, jobs
from storefront.catalog.models import Product
from storefront.extensions import db
from storefront.mail.models import CartReminder, OutboxMessage
from tests.helpers import Browser
from tests.mailbox import parts
from tests.test_checkout import ADDRESS
from tests.test_order_lifecycle import place

EMAIL = "ada@example.com"
IDLE = timedelta(minutes=61)


@pytest.fixture
def settings(mailbox):
    return {
        "STOREFRONT_SMTP_URL": mailbox.url,
        "STOREFRONT_ABANDONED_CART_MINUTES": "60",
        "STOREFRONT_PAYMENT_PROVIDERS": "test",
    }


def shopper(app, allowed=True, email=EMAIL):
    browser = Browser(app.test_client())
    browser.ensure_csrf()
    data = {"email": email, "password": "correct horse battery"}
    if allowed:
        data["cart_reminders"] = "on"
    assert browser.form("/register", data).status_code == 302
    browser.page("/")
    return browser


def run_jobs(app):
    with app.app_context():
        return jobs.run_once()


def reminder_link(mailbox, to=EMAIL) -> str:
    text, _ = parts(mailbox.messages_to(to)[-1])
    return re.search(r"http://127\.0\.0\.1:8000(/cart/reminder/\S+)", text).group(1)


def set_price(app, sku, cents=None, stock=None, active=None):
    values = {
        k: v
        for k, v in (("price_cents", cents), ("stock", stock), ("active", active))
        if v is not None
    }
    with app.app_context():
        db.session.execute(update(Product).where(Product.sku == sku).values(**values))
        db.session.commit()


def test_one_reminder_per_idle_period_only_to_those_who_allowed_it(app, make_product, mailbox):
    sku = make_product(name="Blue Mug", price=5.78)
    ada = shopper(app)
    ada.add(sku, 2)
    quiet = shopper(app, allowed=False, email="bob@example.com")
    quiet.add(sku, 1)
    run_jobs(app)
    assert mailbox.received == []  # not idle yet
    clock.advance(IDLE)
    run_jobs(app)
    run_jobs(app)
    [message] = mailbox.received
    assert (
        message["To"] == EMAIL
        and message["Subject"] == "Storefront: you left something in your cart"
    )
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert (
        message["List-Unsubscribe"].strip().startswith("<http://127.0.0.1:8000/email/unsubscribe/")
    )
    text, html = parts(message)
    assert "Blue Mug" in text and "$5.78" in html
    ada.login(EMAIL)  # signed out by the idle timeout meanwhile
    ada.add(sku, 1)  # a new idle period
    clock.advance(IDLE)
    run_jobs(app)
    assert len(mailbox.messages_to(EMAIL)) == 2


def test_no_reminder_after_the_shopper_came_back_or_ordered(app, make_product, mailbox):
    sku = make_product()
    ada = shopper(app)
    ada.add(sku, 1)
    clock.advance(IDLE)
    with app.app_context():
        from storefront.mail import reminders

        assert reminders.send_reminders() == 1  # queued...
    ada.login(EMAIL)  # ...but the shopper is back before it goes out
    run_jobs(app)
    assert mailbox.received == []
    with app.app_context():
        assert db.session.query(OutboxMessage).one().status == "dropped"


def test_the_link_shows_that_cart_with_what_changed_and_brings_it_back(app, make_product, mailbox):
    mug, cup, jar = (
        make_product(name="Blue Mug", price=5.78, stock=50),
        make_product(name="Red Cup", price=3.00, stock=50),
        make_product(name="Green Jar", price=2.00, stock=50),
    )
    ada = shopper(app)
    ada.add(mug, 2)
    ada.add(cup, 3)
    ada.add(jar, 1)
    clock.advance(IDLE)
    run_jobs(app)
    link = reminder_link(mailbox)
    ada.login(EMAIL)
    ada.api("DELETE", "/cart/lines/" + ada.line_id(mug))  # the cart moved on since
    set_price(app, mug, cents=499)
    set_price(app, cup, stock=2)
    set_price(app, jar, active=False)
    phone = Browser(app.test_client(), user_agent="Mozilla/5.0 (Android 14) Firefox/130.0")
    assert phone.page(link).status_code == 302  # sign in first
    phone.login(EMAIL)
    page = phone.page(link).get_data(as_text=True)
    assert "now $4.99, was $5.78" in page
    assert "Only 2 left" in page and "No longer available" in page
    before = phone.cart()["version"]
    assert phone.form(link, {}).status_code == 302
    after = phone.cart()
    assert after["version"] == before + 1
    assert {line["sku"]: line["quantity"] for line in after["lines"]} == {mug: 2, cup: 2}
    with app.app_context():
        assert db.session.query(CartReminder).one().recovered_at is not None
    assert phone.page(link).status_code == 200  # the link can be opened again
    details = {"email": EMAIL, "address": ADDRESS, "shipping_method": "standard"}
    assert phone.api("PUT", "/checkout", json=details).status_code == 200
    number = place(phone, "test", "tok_ok_visa").json["order"]["number"]
    with app.app_context():  # the order that followed makes it a recovery
        assert db.session.query(CartReminder).one().order_number == int(number)


def test_a_reminder_link_for_another_account_shows_nothing_of_it(app, make_product, mailbox):
    sku = make_product(name="Secret Gift")
    shopper(app).add(sku, 1)
    clock.advance(IDLE)
    run_jobs(app)
    link = reminder_link(mailbox)
    other = shopper(app, email="eve@example.com")
    response = other.page(link)
    assert response.status_code == 404
    assert "another account" in response.get_data(as_text=True)
    assert "Secret Gift" not in response.get_data(as_text=True)
    assert other.form(link, {}).status_code == 404
    assert other.cart()["lines"] == []
    assert Browser(app.test_client()).page("/cart/reminder/forged.token").status_code == 302


def test_one_click_unsubscribe_works_without_a_session_and_is_exported(app, make_product, mailbox):
    sku = make_product()
    ada = shopper(app)
    assert ada.client.get("/account/export").json["account"]["cart_reminders"] is True
    ada.add(sku, 1)
    clock.advance(IDLE)
    run_jobs(app)
    url = (
        mailbox.received[0]["List-Unsubscribe"]
        .strip()
        .strip("<>")
        .replace("http://127.0.0.1:8000", "")
    )
    stranger = Browser(app.test_client()).client  # the mail client: no cookie, no CSRF token
    assert stranger.post(url, data={"List-Unsubscribe": "One-Click"}).status_code == 200
    ada.login(EMAIL)
    assert ada.client.get("/account/export").json["account"]["cart_reminders"] is False
    assert stranger.post(url[:-4] + "xxxx").status_code == 404
    ada.add(sku, 1)
    clock.advance(IDLE)
    run_jobs(app)
    assert len(mailbox.received) == 1


def test_the_account_page_turns_reminders_on_and_off(app):
    ada = shopper(app, allowed=False)
    assert 'name="cart_reminders"' in ada.page("/account").get_data(as_text=True)
    ada.form("/account/reminders", {"cart_reminders": "on"})
    assert ada.client.get("/account/export").json["account"]["cart_reminders"] is True
    ada.form("/account/reminders", {})
    assert ada.client.get("/account/export").json["account"]["cart_reminders"] is False


def test_a_cart_with_nothing_left_to_remind_of_is_looked_at_once(app, make_product, mailbox):
    from storefront.mail import reminders

    sku = make_product()
    ada = shopper(app)
    ada.add(sku, 1)
    set_price(app, sku, active=False)
    with app.app_context():  # its only product is gone from the catalog
        from sqlalchemy import delete

        db.session.execute(delete(Product).where(Product.sku == sku))
        db.session.commit()
    clock.advance(IDLE)
    with app.app_context():
        assert reminders.send_reminders() == 0
        assert reminders.due_carts(clock.now()) == []  # marked, not found again every round
    run_jobs(app)
    assert mailbox.received == []
