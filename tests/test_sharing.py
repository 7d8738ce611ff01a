"""A cart shared by two accounts: invite, confirm, accept, change together, stop; and every
refusal, which changes nothing."""

from __future__ import annotations

import re
import urllib.parse
import urllib.request
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from storefront import clock
from storefront.accounts.models import User
from storefront.cart import models as cart_models
from storefront.cart.types import CartStatus
from storefront.catalog.models import Product
from storefront.extensions import db
from storefront.orders.models import Order
from storefront.sharing import rules
from storefront.sharing.models import CartInvitation
from tests import dbs
from tests.helpers import Browser
from tests.live import HttpShopper, serve
from tests.test_concurrency import in_parallel

OWNER, MEMBER, THIRD = "sam@example.com", "alex@example.com", "kim@example.com"
LINK = re.compile(r'value="https?://[^"/]+(/share/[A-Za-z0-9_-]+)"')
ADDRESS = {
    "name": "Sam Owner",
    "address_line1": "1 Owner Street",
    "city": "London",
    "postal_code": "N1",
    "country": "GB",
}


@pytest.fixture
def settings():
    return {"STOREFRONT_PAYMENT_PROVIDERS": "test"}


@pytest.fixture
def owner(app):
    browser = Browser(app.test_client())
    browser.register(OWNER)
    return browser


@pytest.fixture
def member(app):
    browser = Browser(app.test_client(), user_agent="Mozilla/5.0 (Android 14) Firefox/130.0")
    browser.register(MEMBER)
    return browser


@pytest.fixture
def third(app):
    browser = Browser(app.test_client())
    browser.register(THIRD)
    return browser


def invite(browser) -> str:
    response = browser.form("/cart/share")
    assert response.status_code == 201, response.get_data(as_text=True)
    assert response.headers["Cache-Control"] == "no-store"
    return LINK.search(response.get_data(as_text=True)).group(1)


def accept(browser, link: str):
    browser.page(link)
    return browser.form(link)


def skus(browser) -> list[str]:
    return sorted(line["sku"] for line in browser.cart()["lines"])


def user_id(app, email: str) -> int:
    with app.app_context():
        return db.session.scalar(select(User.id).where(User.email == email))


def shared(owner, member) -> str:
    link = invite(owner)
    response = accept(member, link)
    assert response.status_code == 302, response.get_data(as_text=True)
    return link


def test_an_accepted_invitation_gives_both_accounts_one_cart_changed_by_either(
    owner, member, make_products
):
    mug, scarf, hat = make_products(3)
    owner.add(mug, 2)
    member.add(hat)  # the member's own cart, which waits aside
    shared(owner, member)
    assert skus(member) == [mug]
    assert member.add(scarf).status_code == 200
    line = member.line_id(mug)
    assert member.api("PATCH", f"/cart/lines/{line}", json={"quantity": 3}).status_code == 200
    assert owner.cart()["lines"] == member.cart()["lines"]
    assert {(x["sku"], x["quantity"]) for x in owner.cart()["lines"]} == {(mug, 3), (scarf, 1)}
    assert "Shared with <strong>Alex</strong>" in owner.page("/cart").get_data(as_text=True)
    assert "You share <strong>Sam</strong>" in member.page("/cart").get_data(as_text=True)


def test_opening_the_link_asks_to_confirm_and_uses_nothing(app, owner, member, make_product):
    owner.add(make_product())
    link = invite(owner)
    guest = Browser(app.test_client())
    assert guest.page(link).status_code == 200  # a link previewer, signed out
    page = member.page(link)
    member.page(link)
    assert page.status_code == 200
    # Its Referer is the origin alone: the link stays private, the form passes CSRF over HTTPS.
    assert page.headers["Referrer-Policy"] == "strict-origin"
    assert 'data-testid="share-accept"' in page.get_data(as_text=True)
    assert "Sam" in page.get_data(as_text=True)
    assert member.form(link).status_code == 302


def test_stopping_gives_the_member_their_own_cart_back_as_they_left_it(
    owner, member, make_products
):
    mug, hat, scarf = make_products(3)
    owner.add(mug)
    member.add(hat, 4)
    shared(owner, member)
    member.add(scarf)
    response = owner.form("/cart/share/stop")
    assert response.status_code == 302
    assert {(x["sku"], x["quantity"]) for x in member.cart()["lines"]} == {(hat, 4)}
    assert skus(owner) == sorted([mug, scarf])
    assert member.add(mug).status_code == 200  # the member changes their own cart again
    assert skus(owner) == sorted([mug, scarf])
    assert 'data-testid="share-invite"' in owner.page("/cart").get_data(as_text=True)


def test_the_member_can_leave_and_an_account_without_a_cart_gets_an_empty_one_back(
    owner, member, make_product
):
    sku = make_product()
    owner.add(sku)
    shared(owner, member)
    assert member.form("/cart/share/stop").status_code == 302
    assert member.cart()["lines"] == []
    assert skus(owner) == [sku]
    assert owner.form("/cart/share/stop").status_code == 409  # nothing left to stop


def test_the_history_says_who_did_what_and_hides_what_came_before_sharing(
    owner, member, make_products
):
    before, mug = make_products(2)
    owner.add(before)
    revisions_before = len(owner.api("GET", "/cart/history").json["revisions"])
    shared(owner, member)
    member.add(mug)
    owner_page = owner.page("/cart/history").get_data(as_text=True)
    assert "by Alex" in owner_page
    member_page = member.page("/cart/history").get_data(as_text=True)
    assert "by You" in member_page
    seen = member.api("GET", "/cart/history").json["revisions"]
    assert len(seen) == 1  # only the member's own add: nothing from before sharing
    assert seen[0]["by"] == "You"
    assert owner.api("GET", "/cart/history").json["revisions"][0]["by"] == "Alex"
    assert "by" not in owner.api("GET", "/cart/history").json["revisions"][1]
    assert len(owner.api("GET", "/cart/history").json["revisions"]) == revisions_before + 1
    # Nor can the member bring back what the cart held before they joined.
    refused = member.api("POST", "/cart/restore", json={"revision": revisions_before})
    assert refused.status_code == 404
    assert refused.json["error"]["code"] == "not_found"


def test_the_member_cannot_see_or_restore_the_cart_as_it_was_before_they_joined(
    owner, member, make_products
):
    before, mug = make_products(2)
    start = clock.now().replace(microsecond=0)
    clock.freeze(start)
    owner.add(before, 3)
    clock.advance(timedelta(minutes=4))
    owner.api("PATCH", f"/cart/lines/{owner.line_id(before)}", json={"quantity": 2})
    clock.advance(timedelta(minutes=1))
    shared(owner, member)
    clock.advance(timedelta(minutes=5))
    member.add(mug)

    def at(minutes: int) -> str:
        return urllib.parse.quote((start + timedelta(minutes=minutes)).isoformat())

    def lines(answer) -> dict[str, int]:
        assert answer.status_code == 200, answer.json
        return {line["sku"]: line["quantity"] for line in answer.json["cart"]["lines"]}

    # The owner's cart before the member joined: the owner sees it, the member does not.
    assert lines(owner.api("GET", f"/cart/history?at={at(2)}")) == {before: 3}
    for answer in (
        member.api("GET", f"/cart/history?at={at(2)}"),
        member.api(
            "POST", "/cart/restore", json={"at": (start + timedelta(minutes=2)).isoformat()}
        ),
    ):
        assert answer.status_code == 422, answer.json
        assert "before you joined" in answer.json["error"]["message"]
    # The cart as it was when they joined, and since, is theirs to see.
    assert lines(member.api("GET", f"/cart/history?at={at(7)}")) == {before: 2}
    assert lines(member.api("GET", f"/cart/history?at={at(10)}")) == {before: 2, mug: 1}


def test_each_change_reaches_both_accounts_naming_who_made_it(
    app, owner, member, make_product, published
):
    sku = make_product(name="Blue Mug")
    shared(owner, member)
    published.clear()
    member.add(sku)
    line = member.line_id(sku)
    member.api("PATCH", f"/cart/lines/{line}", json={"quantity": 3})
    owner_channel = f"user:{user_id(app, OWNER)}"
    member_channel = f"user:{user_id(app, MEMBER)}"
    to_owner = [html for channel, html in published if channel == owner_channel]
    to_member = [html for channel, html in published if channel == member_channel]
    assert len(to_owner) == 2 and len(to_member) == 2
    assert "Alex added 1 × Blue Mug." in to_owner[0]
    assert "Alex changed Blue Mug to 3." in to_owner[1]
    # The member's own other devices hear it as before, not in the third person.
    assert "Alex" not in to_member[1] and "set to 3 on another device" in to_member[1]


def test_a_shared_change_goes_only_to_the_account_with_a_page_open(
    app, owner, member, make_product, published, monkeypatch
):
    from storefront import realtime

    sku = make_product(name="Blue Mug")
    shared(owner, member)
    owner_channel = f"user:{user_id(app, OWNER)}"
    monkeypatch.setattr(realtime, "listening", lambda channel: channel == owner_channel)
    published.clear()
    member.add(sku)
    assert [channel for channel, _ in published] == [owner_channel]
    assert "Alex added 1 × Blue Mug." in published[0][1]
    monkeypatch.setattr(realtime, "listening", lambda channel: False)
    published.clear()
    member.add(sku)
    assert published == []


def test_sharing_shows_the_member_none_of_the_owners_orders_addresses_or_account(
    owner, member, make_product
):
    sku = make_product()
    owner.add(sku)
    owner.api("PUT", "/checkout", json={"address": ADDRESS, "shipping_method": "standard"})
    pay = {"payment": {"provider": "test", "token": "tok_ok"}}
    number = owner.api("POST", "/checkout/complete", json=pay).json["order"]["number"]
    owner.add(sku)
    shared(owner, member)
    checkout = member.api("GET", "/checkout").json
    assert checkout["email"] == MEMBER
    assert checkout["address"]["address_line1"] == ""
    assert member.api("GET", "/orders").json["orders"] == []
    assert member.api("GET", f"/orders/{number}").status_code == 404
    assert number not in member.page("/orders").get_data(as_text=True)
    exported = member.page("/account/export").get_data(as_text=True)
    assert OWNER not in exported and "Owner Street" not in exported
    # And the owner does not see what the member types at checkout.
    member.api("PUT", "/checkout", json={"address": {**ADDRESS, "address_line1": "2 Member Rd"}})
    assert owner.api("GET", "/checkout").json["address"]["address_line1"] == "1 Owner Street"


def test_an_order_placed_by_the_member_is_theirs_and_empties_the_shared_cart(
    app, owner, member, make_product, published
):
    sku = make_product()
    owner.add(sku, 2)
    shared(owner, member)
    member.api("PUT", "/checkout", json={"address": ADDRESS, "shipping_method": "standard"})
    pay = {"payment": {"provider": "test", "token": "tok_ok"}}
    published.clear()
    placed = member.api("POST", "/checkout/complete", json=pay)
    assert placed.status_code == 201, placed.json
    # The owner's open checkout is told the cart was ordered, not only the member's pages.
    owner_channel = f"user:{user_id(app, OWNER)}"
    told = "".join(html for channel, html in published if channel == owner_channel)
    assert placed.json["order"]["number"] in told
    assert owner.cart()["lines"] == []
    assert [o["number"] for o in member.api("GET", "/orders").json["orders"]] == [
        placed.json["order"]["number"]
    ]
    assert owner.api("GET", "/orders").json["orders"] == []


# Refusals: each answered clearly, and nothing changes.


def test_a_guest_cannot_share_or_accept(app, owner, make_product):
    guest = Browser(app.test_client())
    guest.add(make_product())
    response = guest.form("/cart/share")
    assert response.status_code == 401
    assert "Sign in first" in response.get_data(as_text=True)
    link = invite(owner)
    assert "sign in</a> to accept" in guest.page(link).get_data(as_text=True)
    assert guest.form(link).status_code == 401
    assert accept(Browser(app.test_client()), link).status_code == 401


def test_accepting_ones_own_invitation_is_refused(owner, make_product):
    owner.add(make_product())
    link = invite(owner)
    page = owner.page(link)
    assert page.status_code == 409
    assert "your own cart" in page.get_data(as_text=True)
    assert owner.form(link).status_code == 409


def test_a_used_invitation_works_once(owner, member, third, make_product):
    owner.add(make_product())
    link = shared(owner, member)
    response = accept(third, link)
    assert response.status_code == 410
    assert "already used" in response.get_data(as_text=True)
    assert third.cart()["lines"] == []


def test_an_invitation_expires(app, owner, member, make_product):
    owner.add(make_product())
    link = invite(owner)
    with app.app_context():
        db.session.execute(
            update(CartInvitation).values(expires_at=clock.now() - timedelta(seconds=1))
        )
        db.session.commit()
    response = accept(member, link)
    assert response.status_code == 410
    assert "expired" in response.get_data(as_text=True)
    assert member.cart()["lines"] == []


def test_a_newer_link_cancels_the_older_one(owner, member, make_product):
    owner.add(make_product())
    older = invite(owner)
    invite(owner)
    assert accept(member, older).status_code == 410


@pytest.mark.parametrize(
    "token", ["unknown-token", "x" * 5000, "%00", "..%2F..%2Fetc", "' OR 1=1 --"]
)
def test_an_unknown_or_malformed_token_is_not_found(member, token):
    assert member.page(f"/share/{token}").status_code == 404
    assert member.form(f"/share/{token}").status_code == 404


def test_a_second_member_or_a_second_link_is_refused(owner, member, third, make_product):
    owner.add(make_product())
    shared(owner, member)
    response = owner.form("/cart/share")
    assert response.status_code == 409
    assert "already shared" in response.get_data(as_text=True)
    assert member.form("/cart/share").status_code == 403  # only the owner invites
    # An account outside the sharing cannot end it.
    assert third.form("/cart/share/stop").status_code == 409
    assert 'data-testid="share-stop"' in member.page("/cart").get_data(as_text=True)


def test_an_account_already_sharing_cannot_accept_another(owner, member, third, make_product):
    owner.add(make_product())
    shared(owner, member)
    third.add(make_product())
    link = invite(third)
    response = accept(member, link)
    assert response.status_code == 409
    assert "already share a cart" in response.get_data(as_text=True)
    assert accept(owner, link).status_code == 409  # the owner of a shared cart too


def test_an_invitation_for_a_cart_since_ordered_is_refused(owner, member, make_product):
    sku = make_product()
    owner.add(sku)
    link = invite(owner)
    owner.api("PUT", "/checkout", json={"address": ADDRESS, "shipping_method": "standard"})
    pay = {"payment": {"provider": "test", "token": "tok_ok"}}
    assert owner.api("POST", "/checkout/complete", json=pay).status_code == 201
    response = accept(member, link)
    assert response.status_code == 409
    assert "checked out" in response.get_data(as_text=True)


def test_accepting_without_the_csrf_token_changes_nothing(owner, member, make_product):
    owner.add(make_product())
    link = invite(owner)
    member.page(link)
    response = member.client.post(link, data={})
    assert response.status_code in (400, 403)
    assert member.cart()["lines"] == []
    assert member.form(link).status_code == 302  # still unused


def test_a_forged_session_cookie_shares_nothing(app, owner, make_product):
    owner.add(make_product())
    link = invite(owner)
    forged = Browser(app.test_client())
    forged.client.set_cookie("session", "forged.value.here")
    assert forged.form(link).status_code in (401, 403)
    assert forged.form("/cart/share").status_code in (401, 403)


def test_deleting_the_owners_account_gives_the_member_their_cart_back(
    app, owner, member, make_products
):
    mine, theirs = make_products(2)
    member.add(mine)
    owner.add(theirs)
    shared(owner, member)
    response = owner.form("/account/delete", {"password": "correct horse battery"})
    assert response.status_code == 302
    assert skus(member) == [mine]
    with app.app_context():
        statuses = db.session.scalars(select(cart_models.Cart.status)).all()
    assert CartStatus.ASIDE not in statuses


def test_both_accounts_checking_out_at_once_make_one_order(app, make_product):
    sku = make_product(stock=10)
    pay = {"payment": {"provider": "test", "token": "tok_ok"}}
    with serve(app) as base:
        accounts = []
        for email in (OWNER, MEMBER):
            shopper = HttpShopper(base)
            assert shopper.form("/register", {"email": email, "password": "long enough pw"}) == 302
            shopper.refresh()
            accounts.append(shopper)
        sam, alex = accounts
        assert sam.call("POST", "/cart/lines", {"sku": sku, "quantity": 2})[0] == 200
        link = _invite_over_http(sam)
        assert alex.form(link, {}) == 302
        for shopper in accounts:
            details = {"address": ADDRESS, "shipping_method": "standard"}
            assert shopper.call("PUT", "/checkout", details)[0] == 200
        results = in_parallel(
            2,
            lambda n: accounts[n].call(
                "POST", "/checkout/complete", pay, {"Idempotency-Key": f"account-{n}"}
            ),
        )
    assert sorted(status for status, _ in results) == [201, 409], results
    (refused,) = [body["error"]["code"] for status, body in results if status == 409]
    assert refused in ("checkout_in_progress", "empty_cart")
    with app.app_context():
        assert db.session.scalar(select(Product.stock).where(Product.sku == sku)) == 8
        assert len(db.session.scalars(select(Order)).all()) == 1


def _invite_over_http(shopper) -> str:
    body = urllib.parse.urlencode({"csrf_token": shopper.csrf}).encode()
    request = urllib.request.Request(
        shopper.base + "/cart/share", data=body, method="POST", headers={"Cookie": shopper.cookie}
    )
    with urllib.request.urlopen(request) as response:
        return LINK.search(response.read().decode()).group(1)


def cart_lookups(app, work) -> int:
    return len(dbs.selects_reading(app, "carts", work))


def test_an_unshared_account_pays_no_lookup_for_sharing_and_a_member_one(
    app, owner, member, make_products
):
    first, second = make_products(2)
    owner.add(first)
    unshared = cart_lookups(app, lambda: owner.add(second))
    shared(owner, member)
    as_member = cart_lookups(app, lambda: member.add(second))
    assert unshared == 1
    assert as_member == 2


NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)
FINE = rules.InvitationFacts(
    used=False,
    expires_at=NOW + timedelta(hours=1),
    cart_open=True,
    cart_owner_id=1,
    cart_member_id=None,
    ordered_since=False,
)


@pytest.mark.parametrize(
    ("invite", "accepter", "code"),
    [
        (FINE, rules.AccepterFacts(2, False), None),
        (FINE, rules.AccepterFacts(1, False), "own_invitation"),
        (replace(FINE, used=True), rules.AccepterFacts(2, False), "invitation_used"),
        (replace(FINE, expires_at=NOW), rules.AccepterFacts(2, False), "invitation_expired"),
        (replace(FINE, ordered_since=True), rules.AccepterFacts(2, False), "invitation_stale"),
        (replace(FINE, cart_open=False), rules.AccepterFacts(2, False), "invitation_stale"),
        (replace(FINE, cart_member_id=3), rules.AccepterFacts(2, False), "cart_already_shared"),
        (replace(FINE, cart_member_id=2), rules.AccepterFacts(2, True), "already_sharing"),
        (FINE, rules.AccepterFacts(2, True), "already_sharing"),
        # Reuse is told as reuse even when the link has also expired since.
        (
            replace(FINE, used=True, expires_at=NOW),
            rules.AccepterFacts(2, False),
            "invitation_used",
        ),
    ],
)
def test_the_acceptance_rules(invite, accepter, code):
    refused = rules.refusal(invite, accepter, NOW)
    assert (refused.code if refused else None) == code


def test_with_htmx_the_link_takes_the_panels_place_and_stopping_reloads_the_cart(
    owner, member, make_product
):
    owner.add(make_product())
    owner.page("/cart")
    answer = owner.form("/cart/share", htmx=True)
    body = answer.get_data(as_text=True)
    assert answer.status_code == 201
    assert body.startswith('<section id="share-panel"') and "<html" not in body
    link = LINK.search(body).group(1)
    assert accept(member, link).status_code == 302
    stopped = member.form("/cart/share/stop", htmx=True)
    assert stopped.status_code == 204
    assert stopped.headers["HX-Redirect"] == "/cart"


def test_accepting_and_stopping_update_the_other_accounts_open_pages(
    app, owner, member, make_product, published
):
    owner.add(make_product())
    link = invite(owner)
    published.clear()
    accept(member, link)
    owner_channel = f"user:{user_id(app, OWNER)}"
    to_owner = "".join(html for channel, html in published if channel == owner_channel)
    assert "Alex accepted your invitation" in to_owner
    assert "Shared with <strong>Alex</strong>" in to_owner
    assert "csrf_token" not in to_owner  # pushed pages get no session's token
    published.clear()
    member.form("/cart/share/stop")
    to_owner = "".join(html for channel, html in published if channel == owner_channel)
    assert "Alex left your shared cart" in to_owner
    assert 'data-testid="share-invite"' in to_owner


def test_a_line_saved_for_later_reaches_both_accounts_saved_lists(
    app, owner, member, make_product, published
):
    sku = make_product(name="Blue Mug")
    shared(owner, member)
    member.add(sku)
    published.clear()
    saved = member.form(f"/cart/lines/{member.line_id(sku)}/save", {})
    assert saved.status_code == 302, saved.get_data(as_text=True)
    owner_channel = f"user:{user_id(app, OWNER)}"
    told = "".join(html for channel, html in published if channel == owner_channel)
    assert 'data-testid="saved-line"' in told and sku in told
