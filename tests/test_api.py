"""The JSON API as the contract describes it, and every refusal leaving every cart untouched."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest


def test_an_empty_cart_reads_as_version_zero(browser):
    cart = browser.cart()
    assert cart == {
        "version": 0,
        "currency": "USD",
        "item_count": 0,
        "subtotal": "0.00",
        "lines": [],
    }


def test_add_returns_the_whole_cart_with_live_prices(browser):
    response = browser.add("DEMO-0001", 3, {"size": "M"})
    assert response.status_code == 200
    assert response.headers["ETag"] == '"1"'
    cart = response.json
    (line,) = cart["lines"]
    assert cart["version"] == 1 and cart["item_count"] == 3
    assert line["sku"] == "DEMO-0001" and line["options"] == {"size": "M"}
    assert line["available"] is True and line["name"] == "Blue Mug"
    assert cart["subtotal"] == line["line_total"] == f"{3 * float(line['unit_price']):.2f}"
    assert len(line["id"]) >= 16 and "DEMO" not in line["id"]


def test_same_sku_and_options_add_to_the_existing_line(browser):
    browser.add("DEMO-0001", 1, {"size": "M"})
    browser.add("DEMO-0001", 2, {"size": "M"})
    cart = browser.add("DEMO-0001", 1, {"size": "L"}).json
    assert [(x["options"]["size"], x["quantity"]) for x in cart["lines"]] == [("M", 3), ("L", 1)]
    assert cart["version"] == 3


def test_lines_without_options_have_an_empty_options_object(browser):
    assert browser.add("DEMO-0030").json["lines"][0]["options"] == {}
    assert browser.add("DEMO-0011", 1, {"engraving": "  "}).json["lines"][1]["options"] == {}


def test_patch_sets_quantity_and_zero_removes(browser):
    browser.add("DEMO-0030", 2)
    line_id = browser.line_id("DEMO-0030")
    cart = browser.api("PATCH", f"/cart/lines/{line_id}", json={"quantity": 5}).json
    assert cart["lines"][0]["quantity"] == 5 and cart["version"] == 2
    cart = browser.api("PATCH", f"/cart/lines/{line_id}", json={"quantity": 0}).json
    assert cart["lines"] == [] and cart["version"] == 3


def test_delete_line_and_clear(browser):
    browser.add("DEMO-0030")
    browser.add("DEMO-0031")
    cart = browser.api("DELETE", f"/cart/lines/{browser.line_id('DEMO-0030')}").json
    assert [x["sku"] for x in cart["lines"]] == ["DEMO-0031"]
    cart = browser.api("DELETE", "/cart").json
    assert cart["lines"] == [] and cart["version"] == 4


def test_prefer_return_minimal_answers_only_the_summary(browser):
    response = browser.add("DEMO-0030", 2, Prefer="return=minimal")
    assert response.json == {
        "version": 1,
        "item_count": 2,
        "subtotal": browser.cart()["subtotal"],
    }
    assert response.headers["Preference-Applied"] == "return=minimal"


def test_if_match_is_honoured_strictly(browser):
    browser.add("DEMO-0030")
    stale = browser.add("DEMO-0031", **{"If-Match": '"0"'})
    assert stale.status_code == 412 and stale.json["error"]["code"] == "version_conflict"
    fresh = browser.add("DEMO-0031", **{"If-Match": '"1"'})
    assert fresh.status_code == 200 and fresh.json["version"] == 2
    malformed = browser.add("DEMO-0031", **{"If-Match": "2"})
    assert malformed.status_code == 400
    assert browser.cart()["version"] == 2


def test_an_idempotency_key_replays_the_first_result_and_applies_once(browser):
    first = browser.add("DEMO-0030", 2, **{"Idempotency-Key": "k-1"})
    again = browser.add("DEMO-0030", 2, **{"Idempotency-Key": "k-1"})
    assert again.status_code == 200 and again.json == first.json
    assert browser.cart()["item_count"] == 2 and browser.cart()["version"] == 1
    browser.add("DEMO-0031", 1)
    later = browser.add("DEMO-0030", 2, **{"Idempotency-Key": "k-1"})
    assert later.json["version"] == 1 and later.json["item_count"] == 2  # the first result
    assert browser.cart()["item_count"] == 3


def test_an_idempotency_key_reused_for_another_request_is_422(browser):
    browser.add("DEMO-0030", 2, **{"Idempotency-Key": "k-2"})
    other = browser.add("DEMO-0030", 3, **{"Idempotency-Key": "k-2"})
    assert other.status_code == 422 and other.json["error"]["code"] == "idempotency_key_reused"
    assert browser.cart()["item_count"] == 2


def test_json_bodies_compare_as_parsed_json_for_idempotency(browser):
    key = {"Idempotency-Key": "k-3", "Content-Type": "application/json"}
    one = '{"sku": "DEMO-0030", "quantity": 1}'
    two = '{"quantity":1,"sku":"DEMO-0030"}'
    assert browser.api("POST", "/cart/lines", data=one, headers=key).status_code == 200
    assert browser.api("POST", "/cart/lines", data=two, headers=key).json["version"] == 1
    assert browser.cart()["item_count"] == 1


def test_a_refused_request_can_be_retried_under_the_same_key(browser):
    refused = browser.add("DEMO-1500", 4, **{"Idempotency-Key": "k-4"})
    assert refused.status_code == 409
    assert browser.add("DEMO-1500", 3, **{"Idempotency-Key": "k-4"}).status_code == 200


def test_unavailable_lines_stay_but_leave_the_subtotal(app, browser):
    browser.add("DEMO-0030", 1)
    browser.add("DEMO-0031", 2)
    with app.app_context():
        from storefront.catalog.services import by_sku
        from storefront.extensions import db

        by_sku("DEMO-0030").active = False
        by_sku("DEMO-0031").stock = 0
        db.session.commit()
    cart = browser.cart()
    assert [x["available"] for x in cart["lines"]] == [False, False]
    assert cart["subtotal"] == "0.00" and cart["item_count"] == 3


def test_a_minimal_answer_totals_the_whole_cart_at_live_prices(app, browser):
    browser.add("DEMO-0001", 2, {"size": "M"})
    browser.add("DEMO-0001", 1, {"size": "L"})  # the same SKU on a second line
    browser.add("DEMO-0030", 1)
    browser.add("DEMO-0031", 2)
    browser.add("DEMO-0032", 3)
    with app.app_context():
        from storefront.catalog.services import by_sku
        from storefront.extensions import db

        by_sku("DEMO-0030").active = False
        by_sku("DEMO-0031").stock = 0
        by_sku("DEMO-0032").price_cents = 1234
        db.session.commit()
    minimal = browser.add("DEMO-0040", 1, Prefer="return=minimal").json
    full = browser.cart()
    assert minimal == {k: full[k] for k in ("version", "item_count", "subtotal")}
    assert full["item_count"] == 10
    expected = sum(Decimal(x["line_total"]) for x in full["lines"] if x["available"])
    assert Decimal(full["subtotal"]) == expected
    assert [x["line_total"] for x in full["lines"] if x["sku"] == "DEMO-0032"] == ["37.02"]
    line_id = browser.line_id("DEMO-0032")
    minimal = browser.api(
        "PATCH", f"/cart/lines/{line_id}", {"quantity": 1}, {"Prefer": "return=minimal"}
    ).json
    assert Decimal(minimal["subtotal"]) == expected - Decimal("24.68")
    assert minimal["item_count"] == 8


def test_the_totals_of_costly_lines_do_not_overflow(app, browser):
    with app.app_context():
        from storefront.catalog.services import MAX_PRICE_CENTS, by_sku
        from storefront.extensions import db

        by_sku("DEMO-0033").price_cents = MAX_PRICE_CENTS
        db.session.commit()
    answer = browser.add("DEMO-0033", 3, Prefer="return=minimal")
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert answer.json["subtotal"] == "64424509.41" == browser.cart()["subtotal"]


def test_openapi_describes_every_endpoint(browser):
    spec = browser.api("GET", "/openapi.json").json
    assert spec["openapi"].startswith("3.1")
    assert {"/cart", "/cart/lines", "/cart/lines/{line_id}"} <= set(spec["paths"])


# --- refusals ---------------------------------------------------------------------------------

HOSTILE_ADDS = [
    ({"sku": "DEMO-0030", "quantity": 0}, 422, "invalid_quantity"),
    ({"sku": "DEMO-0030", "quantity": -3}, 422, "invalid_quantity"),
    ({"sku": "DEMO-0030", "quantity": 1.5}, 422, "invalid_quantity"),
    ({"sku": "DEMO-0030", "quantity": 2.0}, 422, "invalid_quantity"),
    ({"sku": "DEMO-0030", "quantity": True}, 422, "invalid_quantity"),
    ({"sku": "DEMO-0030", "quantity": "2"}, 422, "invalid_quantity"),
    ({"sku": "DEMO-0030", "quantity": None}, 422, "invalid_quantity"),
    ({"sku": "DEMO-0030", "quantity": 10**40}, 409, "quantity_limit"),
    ({"sku": "DEMO-0030", "quantity": 1000}, 409, "quantity_limit"),
    ({"sku": "DEMO-1500", "quantity": 4}, 409, "out_of_stock"),
    ({"sku": "NOPE-1", "quantity": 1}, 422, "unknown_sku"),
    ({"sku": "X" * 10_000, "quantity": 1}, 422, "unknown_sku"),
    ({"sku": 42, "quantity": 1}, 422, "unknown_sku"),
    ({"sku": "DEMO-0001", "quantity": 1}, 422, "invalid_option"),
    ({"sku": "DEMO-0001", "quantity": 1, "options": {"size": "XXL"}}, 422, "invalid_option"),
    ({"sku": "DEMO-0030", "quantity": 1, "options": {"size": "M"}}, 422, "invalid_option"),
    (
        {"sku": "DEMO-0011", "quantity": 1, "options": {"engraving": "x" * 41}},
        422,
        "invalid_option",
    ),
    ({"sku": "DEMO-0011", "quantity": 1, "options": {"engraving": 7}}, 422, "invalid_option"),
    ({"sku": "DEMO-0011", "quantity": 1, "options": ["engraving"]}, 400, "bad_request"),
    ({"quantity": 1}, 400, "bad_request"),
    ({"sku": "DEMO-0030", "quantity": 1, "extra": 1}, 400, "bad_request"),
]


def snapshot(browser) -> dict:
    return browser.cart()


@pytest.mark.parametrize(("body", "status", "code"), HOSTILE_ADDS)
def test_hostile_adds_are_refused_clearly_and_change_nothing(browser, body, status, code):
    browser.add("DEMO-0031", 2)
    before = snapshot(browser)
    response = browser.api("POST", "/cart/lines", json=body)
    assert response.status_code == status, response.json
    assert response.json["error"]["code"] == code
    assert len(response.json["error"]["message"]) > 10
    assert snapshot(browser) == before


@pytest.mark.parametrize(
    ("data", "content_type"),
    [
        ("{not json", "application/json"),
        ("[1, 2]", "application/json"),
        ('"text"', "application/json"),
        ("", "application/json"),
        ("[" * 50_000 + "]" * 10_000, "application/json"),
        (b"\xff\xfe{", "application/json"),
    ],
)
def test_malformed_bodies_are_400(browser, data, content_type):
    before = snapshot(browser)
    response = browser.api("POST", "/cart/lines", data=data, headers={"Content-Type": content_type})
    assert response.status_code == 400 and response.json["error"]["code"] == "bad_request"
    assert snapshot(browser) == before


def test_oversized_bodies_are_413_with_the_json_error(browser):
    body = json.dumps({"sku": "DEMO-0030", "quantity": 1, "options": {"x": "y" * 70_000}})
    response = browser.api(
        "POST", "/cart/lines", data=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413 and response.json["error"]["code"] == "bad_request"


@pytest.mark.parametrize("quantity", [-1, 1.5, "3", None, False])
def test_hostile_patches_are_422(browser, quantity):
    browser.add("DEMO-0030", 2)
    before = snapshot(browser)
    line_id = browser.line_id("DEMO-0030")
    response = browser.api("PATCH", f"/cart/lines/{line_id}", json={"quantity": quantity})
    assert response.status_code == 422 and response.json["error"]["code"] == "invalid_quantity"
    assert snapshot(browser) == before


def test_unknown_and_foreign_line_ids_are_404_and_change_nothing(browser, other_browser):
    browser.add("DEMO-0030", 2)
    other_browser.add("DEMO-0031", 1)
    theirs = other_browser.line_id("DEMO-0031")
    mine_before, theirs_before = snapshot(browser), snapshot(other_browser)
    for line_id in (theirs, "nope", "x" * 300):
        for method, body in (("PATCH", {"quantity": 5}), ("DELETE", None)):
            response = browser.api(method, f"/cart/lines/{line_id}", json=body)
            assert response.status_code == 404, (method, line_id)
            assert response.json["error"]["code"] == "not_found"
    assert snapshot(browser) == mine_before and snapshot(other_browser) == theirs_before


def test_a_line_id_on_a_guest_without_a_cart_is_404(browser):
    response = browser.api("PATCH", "/cart/lines/abc", json={"quantity": 1})
    assert response.status_code == 404


def test_mutations_without_the_csrf_token_are_403(browser):
    browser.add("DEMO-0030")
    before = snapshot(browser)
    for method, path, body in (
        ("POST", "/cart/lines", {"sku": "DEMO-0030", "quantity": 1}),
        ("PATCH", f"/cart/lines/{browser.line_id('DEMO-0030')}", {"quantity": 4}),
        ("DELETE", "/cart", None),
    ):
        response = browser.client.open("/api/v1" + path, method=method, json=body)
        assert response.status_code == 403 and response.json["error"]["code"] == "csrf_failed"
        wrong = browser.client.open(
            "/api/v1" + path, method=method, json=body, headers={"X-CSRF-Token": "forged"}
        )
        assert wrong.status_code == 403
    assert snapshot(browser) == before


def test_unknown_paths_and_methods_answer_json_errors(browser):
    missing = browser.api("GET", "/nothing-here")
    assert missing.status_code == 404 and missing.json["error"]["code"] == "not_found"
    wrong = browser.api("PUT", "/cart")
    assert wrong.status_code == 405 and wrong.json["error"]["code"] == "bad_request"


def test_idempotency_keys_longer_than_200_characters_are_refused(browser):
    response = browser.add("DEMO-0030", 1, **{"Idempotency-Key": "k" * 201})
    assert response.status_code == 400 and snapshot(browser)["version"] == 0
