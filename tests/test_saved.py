"""Saved for later: a line leaves the cart for the saved list and comes back, each move one
cart revision; the list is sealed at rest, kept with the cart (account or guest), pushed live
to the shopper's pages, shown at today's price and availability, never in the totals."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select, update

from storefront.catalog.models import Product
from storefront.extensions import db
from storefront.saved.models import SavedLine
from tests.helpers import Browser

EMAIL = "ada@example.com"
SAVED = re.compile(r'data-testid="saved-line" data-sku="([^"]+)" data-saved-id="([^"]+)"')


def save(browser, sku: str, **kwargs):
    return browser.form(
        f"/cart/lines/{browser.line_id(sku)}/save", kwargs.pop("data", {}), **kwargs
    )


def saved(browser) -> list[tuple[str, str]]:
    """(sku, saved id) of each saved line on /saved, newest first."""
    return SAVED.findall(browser.page("/saved").get_data(as_text=True))


def move(browser, saved_id: str, **kwargs):
    return browser.form(f"/saved/{saved_id}/move-to-cart", kwargs.pop("data", {}), **kwargs)


def skus(browser) -> list[tuple[str, int]]:
    return [(x["sku"], x["quantity"]) for x in browser.cart()["lines"]]


def test_saving_moves_the_line_out_of_the_cart_and_its_total_as_one_revision(browser, make_product):
    kept, later = make_product(price="5.00"), make_product(name="Velvet Chair", price="80.00")
    browser.add(kept, 1)
    browser.add(later, 2)
    response = save(browser, later)
    assert response.status_code == 302 and response.location.endswith("/cart")
    page = browser.page("/cart").get_data(as_text=True)
    assert "Saved Velvet Chair for later." in page
    cart = browser.cart()
    assert skus(browser) == [(kept, 1)] and cart["subtotal"] == "5.00" and cart["version"] == 3
    assert [sku for sku, _ in saved(browser)] == [later]
    assert 'data-testid="saved-line" data-sku="' + later in page  # under the cart too
    listing = browser.page("/saved").get_data(as_text=True)
    assert "$80.00 each" in listing and "In stock." in listing and "Quantity 2" in listing


def test_moving_back_restores_the_line_with_its_options_as_one_revision(browser, make_product):
    sku = make_product(options="engraving:text(40)")
    browser.add(sku, 1, {"engraving": "For Ada"})
    save(browser, sku)
    [(_, saved_id)] = saved(browser)
    response = move(browser, saved_id)
    assert response.status_code == 302
    [line] = browser.cart()["lines"]
    assert (line["sku"], line["quantity"], line["options"]) == (sku, 1, {"engraving": "For Ada"})
    assert browser.cart()["version"] == 3 and saved(browser) == []
    summaries = [r["summary"] for r in browser.api("GET", "/cart/history").json["revisions"]]
    assert summaries[0].startswith("Added 1 ×") and summaries[1].startswith("Removed")


def test_moving_back_adds_to_a_matching_line_at_todays_price(app, browser, make_product):
    sku = make_product(price="10.00")
    browser.add(sku, 2)
    save(browser, sku)
    browser.add(sku, 1)
    with app.app_context():
        db.session.execute(update(Product).where(Product.sku == sku).values(price_cents=1200))
        db.session.commit()
    listing = browser.page("/saved").get_data(as_text=True)
    assert "Now $12.00, was $10.00 when you added it." in listing
    move(browser, saved(browser)[0][1])
    cart = browser.cart()
    assert skus(browser) == [(sku, 3)] and cart["subtotal"] == "36.00"


def test_a_retired_product_is_shown_unavailable_and_cannot_move_back(app, browser, make_product):
    sku = make_product()
    browser.add(sku)
    save(browser, sku)
    with app.app_context():
        db.session.execute(update(Product).where(Product.sku == sku).values(active=False))
        db.session.commit()
    listing = browser.page("/saved").get_data(as_text=True)
    assert "No longer available." in listing
    response = move(browser, saved(browser)[0][1])
    assert response.status_code == 409 and "no longer sold" in response.get_data(as_text=True)
    assert browser.cart()["lines"] == [] and len(saved(browser)) == 1


def test_moving_back_more_than_is_in_stock_is_refused_and_keeps_it_saved(
    app, browser, make_product
):
    sku = make_product(stock=5)
    browser.add(sku, 4)
    save(browser, sku)
    with app.app_context():
        db.session.execute(update(Product).where(Product.sku == sku).values(stock=2))
        db.session.commit()
    assert "Only 2 left in stock." in browser.page("/saved").get_data(as_text=True)
    response = move(browser, saved(browser)[0][1])
    assert response.status_code == 409 and browser.cart()["lines"] == []
    assert len(saved(browser)) == 1


def test_saved_lines_are_sealed_at_rest(app, browser, make_product):
    sku = make_product(options="engraving:text(40)")
    browser.add(sku, 1, {"engraving": "Secret Message"})
    save(browser, sku)
    with app.app_context():
        row = db.session.scalar(select(SavedLine))
        assert b"Secret Message" not in row.sealed and sku.encode() not in row.sealed


def test_the_saved_list_follows_the_account_to_another_device(app, browser, make_product):
    sku = make_product()
    browser.register(EMAIL)
    browser.add(sku)
    save(browser, sku)
    laptop = Browser(app.test_client())
    laptop.login(EMAIL)
    assert [s for s, _ in saved(laptop)] == [sku]
    move(laptop, saved(laptop)[0][1])
    assert skus(browser) == [(sku, 1)] and saved(browser) == []


def test_a_guests_saved_lines_join_the_account_at_sign_in(app, browser, make_product):
    sku, theirs = make_product(), make_product()
    account = Browser(app.test_client())
    account.register(EMAIL)
    account.add(theirs)
    save(account, theirs)
    account.logout()
    browser.add(sku)
    save(browser, sku)
    browser.login(EMAIL)
    assert sorted(s for s, _ in saved(browser)) == sorted([sku, theirs])


def test_a_save_is_pushed_to_the_shoppers_pages_without_a_csrf_token(
    browser, make_product, published
):
    sku = make_product(name="Green Vase")
    browser.add(sku)
    published.clear()
    response = save(browser, sku, htmx=True)
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert 'id="saved" class="saved" aria-labelledby="saved-heading" hx-swap-oob="true"' in body
    assert "Saved Green Vase for later." in body
    channels = {channel for channel, _ in published}
    assert len(channels) == 1  # the shopper's own channel, nobody else's
    pushed = "".join(html for _, html in published)
    assert "Green Vase was saved for later on another device." in pushed
    assert f'data-testid="saved-line" data-sku="{sku}"' in pushed
    assert 'hx-swap-oob="delete"' in pushed  # the line leaves the cart on other pages
    assert "csrf_token" not in pushed


def test_another_shoppers_lines_and_saved_lines_are_not_found(app, browser, make_product):
    sku = make_product()
    browser.add(sku)
    line_id = browser.line_id(sku)
    save(browser, sku)
    [(_, saved_id)] = saved(browser)
    browser.add(sku)
    stranger = Browser(app.test_client())
    stranger.add(make_product())
    assert stranger.form(f"/cart/lines/{browser.line_id(sku)}/save").status_code == 404
    assert move(stranger, saved_id).status_code == 404
    assert stranger.form(f"/cart/lines/{line_id}/save").status_code == 404
    assert len(saved(browser)) == 1 and skus(browser) == [(sku, 1)]
    assert saved(stranger) == []


@pytest.mark.parametrize("bad", ["x" * 300, "nope", "%00", "..%2F..%2Fetc"])
def test_unknown_or_malformed_ids_are_404s_that_change_nothing(browser, make_product, bad):
    sku = make_product()
    browser.add(sku)
    assert browser.form(f"/cart/lines/{bad}/save").status_code == 404
    assert move(browser, bad).status_code == 404
    assert browser.cart()["version"] == 1


def test_saving_and_moving_need_the_csrf_token(browser, make_product):
    sku = make_product()
    browser.add(sku)
    line_id = browser.line_id(sku)
    assert browser.client.post(f"/cart/lines/{line_id}/save").status_code == 403
    save(browser, sku)
    [(_, saved_id)] = saved(browser)
    assert browser.client.post(f"/saved/{saved_id}/move-to-cart").status_code == 403
    assert browser.cart()["lines"] == [] and len(saved(browser)) == 1


def test_a_resubmitted_save_form_is_applied_once(browser, make_product):
    sku, other = make_product(), make_product()
    browser.add(sku)
    browser.add(other)
    line_id = browser.line_id(sku)
    first = browser.form(f"/cart/lines/{line_id}/save", {"idempotency_key": "k-1"})
    again = browser.form(f"/cart/lines/{line_id}/save", {"idempotency_key": "k-1"})
    assert first.status_code == again.status_code == 302
    assert len(saved(browser)) == 1 and browser.cart()["version"] == 3


def test_moving_twice_from_two_devices_moves_once(app, browser, make_product):
    sku = make_product()
    browser.register(EMAIL)
    browser.add(sku)
    save(browser, sku)
    laptop = Browser(app.test_client())
    laptop.login(EMAIL)
    [(_, saved_id)] = saved(browser)
    assert move(browser, saved_id).status_code == 302
    assert move(laptop, saved_id).status_code == 404
    assert skus(browser) == [(sku, 1)]


@pytest.fixture
def settings():
    return {"STOREFRONT_MAX_LINES": "2"}


def test_the_saved_list_is_capped_like_the_cart(browser, make_product):
    first, second, third = make_product(), make_product(), make_product()
    for sku in (first, second):
        browser.add(sku)
        save(browser, sku)
    browser.add(third)
    response = save(browser, third)
    assert response.status_code == 409 and "saved list is full" in response.get_data(as_text=True)
    assert skus(browser) == [(third, 1)] and len(saved(browser)) == 2


def test_the_data_export_includes_the_saved_list(browser, make_product):
    sku = make_product(options="engraving:text(40)")
    browser.register(EMAIL)
    browser.add(sku, 1, {"engraving": "Grace"})
    save(browser, sku)
    [item] = browser.page("/account/export").json["saved_for_later"]
    assert (item["sku"], item["quantity"], item["options"]) == (sku, 1, {"engraving": "Grace"})
    assert item["saved_id"] == saved(browser)[0][1] and item["available"] is True
