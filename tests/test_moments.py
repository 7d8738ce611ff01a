"""Restore to any moment: the cart as it was at a point in time, by API and on the history
page, within the history window, including a state older than the window that lasted into it."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from urllib.parse import quote
from zoneinfo import ZoneInfo

import pytest

from storefront import clock
from tests.helpers import Browser


def lines(cart: dict) -> list[tuple]:
    return [(x["sku"], x["quantity"]) for x in cart["lines"]]


def at(browser, moment: datetime | str):
    text = moment if isinstance(moment, str) else moment.isoformat()
    return browser.api("GET", f"/cart/history?at={quote(text)}")


def restore_at(browser, moment: datetime | str, **headers):
    text = moment if isinstance(moment, str) else moment.isoformat()
    return browser.api("POST", "/cart/restore", json={"at": text}, headers=headers)


@pytest.fixture
def settings():
    # The page's date-time field is read in the shop's zone; guest carts outlive the window.
    return {"STOREFRONT_TIME_ZONE": "Europe/Berlin", "STOREFRONT_GUEST_CART_DAYS": "90"}


@pytest.fixture
def timeline(browser, make_product):
    """Two changes an hour apart, then an hour more: (first sku, second sku, their times)."""
    clock.freeze(datetime(2026, 11, 20, 9, 0, tzinfo=UTC))
    first, second = make_product(), make_product()
    browser.add(first, 2)
    one = clock.now()
    clock.advance(timedelta(hours=1))
    browser.add(second, 1)
    two = clock.now()
    clock.advance(timedelta(hours=1))
    return first, second, one, two


def test_the_cart_at_a_moment_is_the_last_revision_made_by_then(browser, timeline):
    first, second, one, two = timeline
    between = at(browser, one + timedelta(minutes=30))
    assert between.status_code == 200
    assert between.json["revision"] == 1 and lines(between.json["cart"]) == [(first, 2)]
    later = at(browser, two + timedelta(minutes=5)).json
    assert later["revision"] == 2 and lines(later["cart"]) == [(first, 2), (second, 1)]
    # Exactly at a change's time, that change is in.
    assert at(browser, two).json["revision"] == 2
    # Any offset names the same moment.
    berlin = (one + timedelta(minutes=30)).astimezone(ZoneInfo("Europe/Berlin"))
    assert at(browser, berlin).json["revision"] == 1


def test_restoring_a_moment_brings_that_cart_back_as_a_new_revision(browser, timeline):
    first, _, one, _ = timeline
    response = restore_at(browser, one + timedelta(minutes=30))
    assert response.status_code == 200, response.json
    assert lines(response.json) == [(first, 2)] and response.json["version"] == 3
    newest = browser.api("GET", "/cart/history?limit=1").json["revisions"][0]
    assert newest["source"] == "restore" and "revision 1" in newest["summary"]


def test_a_moment_before_the_first_change_is_the_empty_cart(browser, timeline):
    _, _, one, _ = timeline
    before = at(browser, one - timedelta(minutes=5)).json
    assert before["revision"] == 0 and before["cart"]["lines"] == []
    assert restore_at(browser, one - timedelta(minutes=5)).json["lines"] == []


def test_a_state_older_than_the_window_that_lasted_into_it_is_found_even_after_cleanup(
    app, browser, make_product
):
    from storefront.cart import retention

    sku, later_sku = make_product(), make_product()
    browser.add(sku, 3)
    clock.advance(timedelta(days=40))  # revision 1 is now older than the 30-day window
    browser.add(later_sku, 1)
    moment = clock.now() - timedelta(days=10)  # in the window; revision 1 still held then
    assert at(browser, moment).json["revision"] == 1
    with app.app_context():
        summary = retention.run(retention.plan())
    assert summary.revisions == 1  # revision 1's row is gone; its state is kept at the boundary
    found = at(browser, moment).json
    assert found["revision"] == 1 and lines(found["cart"]) == [(sku, 3)]
    assert lines(restore_at(browser, moment).json) == [(sku, 3)]


@pytest.mark.parametrize(
    ("moment", "words"),
    [
        ("2026-11-20T09:30:00", "time zone offset"),  # naive: which 09:30?
        ("yesterday at two", "ISO 8601"),
        ("2026-13-45T99:00:00Z", "ISO 8601"),
        ("", "ISO 8601"),
        ("2" * 5000, "ISO 8601"),
        ("2999-01-01T00:00:00Z", "future"),
        ("2026-01-01T00:00:00Z", "goes back 30 days"),
    ],
)
def test_unusable_moments_are_refused_and_nothing_changes(browser, timeline, moment, words):
    looked = at(browser, moment)
    assert looked.status_code == 422 and looked.json["error"]["code"] == "invalid_moment"
    assert words in looked.json["error"]["message"]
    refused = restore_at(browser, moment)
    assert refused.status_code == 422 and words in refused.json["error"]["message"]
    assert browser.cart()["version"] == 2


@pytest.mark.parametrize("body", [{"at": 5}, {"at": None}, {"at": ["2026-11-20T09:30Z"]}])
def test_a_moment_that_is_not_text_is_refused(browser, timeline, body):
    response = browser.api("POST", "/cart/restore", json=body)
    assert response.status_code == 422 and response.json["error"]["code"] == "invalid_moment"
    assert browser.cart()["version"] == 2


def test_a_moment_and_a_revision_or_paging_together_are_refused(browser, timeline):
    _, _, one, _ = timeline
    both = browser.api("POST", "/cart/restore", json={"at": one.isoformat(), "revision": 1})
    assert both.status_code == 400 and browser.cart()["version"] == 2
    paged = browser.api("GET", f"/cart/history?at={quote(one.isoformat())}&limit=5")
    assert paged.status_code == 422 and "before" in paged.json["error"]["message"]


def test_restoring_a_moment_needs_the_csrf_token(browser, timeline):
    _, _, one, _ = timeline
    response = browser.client.post(
        "/api/v1/cart/restore", json={"at": one.isoformat()}, headers={"X-CSRF-Token": "forged"}
    )
    assert response.status_code == 403 and response.json["error"]["code"] == "csrf_failed"
    assert browser.cart()["version"] == 2


def test_a_moment_is_always_of_the_asking_shoppers_own_cart(app, browser, timeline):
    _, _, _, two = timeline
    stranger = Browser(app.test_client())
    seen = at(stranger, two).json
    assert seen["revision"] == 0 and seen["cart"]["lines"] == []
    # A forged cookie is a new guest with an empty cart, never someone else's.
    stranger.client.set_cookie("session", "forged.cookie.value")
    assert at(stranger, two).json["cart"]["lines"] == []
    assert restore_at(stranger, two).status_code == 404
    assert browser.cart()["version"] == 2


def test_the_history_page_shows_the_cart_at_a_local_time_and_restores_it(browser, timeline):
    first, _, one, _ = timeline
    local = (one + timedelta(minutes=30)).astimezone(ZoneInfo("Europe/Berlin"))
    html = browser.page(f"/cart/history?at={local:%Y-%m-%dT%H:%M}").get_data(as_text=True)
    assert "Europe/Berlin" in html
    assert re.search(r'data-testid="history-moment" data-revision="1"', html)
    assert re.findall(r'data-testid="history-moment-line" data-sku="([^"]+)"', html) == [first]
    sent = re.search(r'name="at" value="([^"]+)"', html).group(1)
    response = browser.form("/cart/restore", {"at": sent})
    assert response.status_code == 302 and response.location.endswith("/cart")
    assert lines(browser.cart()) == [(first, 2)]
    assert "back as it was at revision 1" in browser.page("/cart").get_data(as_text=True)


def test_the_history_page_says_why_a_moment_is_refused(browser, timeline):
    response = browser.page("/cart/history?at=2999-01-01T10:00")
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'role="alert"' in html and "in the future" in html
    assert 'aria-invalid="true"' in html
