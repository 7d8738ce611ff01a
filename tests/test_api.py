"""The JSON API as the contract describes it, and every refusal leaving every cart untouched."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from tests.factories import ENGRAVABLE, LAST_THREE, PLAIN, SIZED
from tests.helpers import Browser


def test_an_empty_cart_reads_as_version_zero(browser):
    cart = browser.cart()
    assert cart == {
        "version": 0,
        "currency": "USD",
        "item_count": 0,
        "subtotal": "0.00",
        "lines": [],
    }


def test_add_returns_the_whole_cart_with_live_prices(browser, make_product):
    sku = make_product(name="Blue Mug", price="13.99", options="size:S|M|L|XL!")
    response = browser.add(sku, 3, {"size": "M"})
    assert response.status_code == 200
    assert response.headers["ETag"] == '"1"'
    cart = response.json
    (line,) = cart["lines"]
    assert cart["version"] == 1 and cart["item_count"] == 3
    assert line["sku"] == sku and line["options"] == {"size": "M"}
    assert line["available"] is True and line["name"] == "Blue Mug"
    assert cart["subtotal"] == line["line_total"] == f"{3 * float(line['unit_price']):.2f}"
    assert len(line["id"]) >= 16 and sku not in line["id"]


def test_same_sku_and_options_add_to_the_existing_line(browser, make_product):
    sku = make_product(options="size:S|M|L|XL!")
    browser.add(sku, 1, {"size": "M"})
    browser.add(sku, 2, {"size": "M"})
    cart = browser.add(sku, 1, {"size": "L"}).json
    assert [(x["options"]["size"], x["quantity"]) for x in cart["lines"]] == [("M", 3), ("L", 1)]
    assert cart["version"] == 3


def test_lines_without_options_have_an_empty_options_object(browser, make_product):
    plain, engravable = make_product(), make_product(options="engraving:text(40)")
    assert browser.add(plain).json["lines"][0]["options"] == {}
    assert browser.add(engravable, 1, {"engraving": "  "}).json["lines"][1]["options"] == {}


def test_patch_sets_quantity_and_zero_removes(browser, make_product):
    sku = make_product()
    browser.add(sku, 2)
    line_id = browser.line_id(sku)
    cart = browser.api("PATCH", f"/cart/lines/{line_id}", json={"quantity": 5}).json
    assert cart["lines"][0]["quantity"] == 5 and cart["version"] == 2
    cart = browser.api("PATCH", f"/cart/lines/{line_id}", json={"quantity": 0}).json
    assert cart["lines"] == [] and cart["version"] == 3


def test_delete_line_and_clear(browser, make_product):
    one, two = make_product(), make_product()
    browser.add(one)
    browser.add(two)
    cart = browser.api("DELETE", f"/cart/lines/{browser.line_id(one)}").json
    assert [x["sku"] for x in cart["lines"]] == [two]
    cart = browser.api("DELETE", "/cart").json
    assert cart["lines"] == [] and cart["version"] == 4


def test_prefer_return_minimal_answers_only_the_summary(browser, make_product):
    response = browser.add(make_product(), 2, Prefer="return=minimal")
    assert response.json == {
        "version": 1,
        "item_count": 2,
        "subtotal": browser.cart()["subtotal"],
    }
    assert response.headers["Preference-Applied"] == "return=minimal"


def test_if_match_is_honoured_strictly(browser, make_product):
    one, two = make_product(), make_product()
    browser.add(one)
    stale = browser.add(two, **{"If-Match": '"0"'})
    assert stale.status_code == 412 and stale.json["error"]["code"] == "version_conflict"
    fresh = browser.add(two, **{"If-Match": '"1"'})
    assert fresh.status_code == 200 and fresh.json["version"] == 2
    malformed = browser.add(two, **{"If-Match": "2"})
    assert malformed.status_code == 400
    assert browser.cart()["version"] == 2
    # The precondition comes before the product (RFC 9110: before the request's content is
    # processed), but a string that cannot be a SKU is malformed input whatever the version.
    assert browser.add("NO-SUCH-SKU", **{"If-Match": '"1"'}).status_code == 412
    not_a_sku = browser.add("x" * 65, **{"If-Match": '"1"'})
    assert not_a_sku.status_code == 422 and not_a_sku.json["error"]["code"] == "unknown_sku"
    assert browser.add("NO-SUCH-SKU", **{"If-Match": '"2"'}).status_code == 422
    sized = make_product(options="size:S|M|L|XL!")
    assert browser.add(sized, options={"size": "XXL"}, **{"If-Match": '"1"'}).status_code == 412
    # Options that are not text are malformed for any product: refused first too.
    not_text = browser.add(sized, options={"size": ["M"]}, **{"If-Match": '"1"'})
    assert not_text.status_code == 422 and not_text.json["error"]["code"] == "invalid_option"
    assert "must be text" in not_text.json["error"]["message"]
    bad_option = browser.add(sized, options={"size": "XXL"}, **{"If-Match": '"2"'})
    assert bad_option.status_code == 422
    assert bad_option.json["error"]["code"] == "invalid_option"
    assert browser.cart()["version"] == 2


def test_an_idempotency_key_replays_the_first_result_and_applies_once(browser, make_product):
    one, two = make_product(), make_product()
    first = browser.add(one, 2, **{"Idempotency-Key": "k-1"})
    again = browser.add(one, 2, **{"Idempotency-Key": "k-1"})
    assert again.status_code == 200 and again.json == first.json
    assert browser.cart()["item_count"] == 2 and browser.cart()["version"] == 1
    browser.add(two, 1)
    later = browser.add(one, 2, **{"Idempotency-Key": "k-1"})
    assert later.json["version"] == 1 and later.json["item_count"] == 2  # the first result
    assert browser.cart()["item_count"] == 3


def test_an_idempotency_key_reused_for_another_request_is_422(browser, make_product):
    sku = make_product()
    browser.add(sku, 2, **{"Idempotency-Key": "k-2"})
    other = browser.add(sku, 3, **{"Idempotency-Key": "k-2"})
    assert other.status_code == 422 and other.json["error"]["code"] == "idempotency_key_reused"
    assert browser.cart()["item_count"] == 2


def test_json_bodies_compare_as_parsed_json_for_idempotency(browser, make_product):
    sku = make_product()
    key = {"Idempotency-Key": "k-3", "Content-Type": "application/json"}
    one = f'{{"sku": "{sku}", "quantity": 1}}'
    two = f'{{"quantity":1,"sku":"{sku}"}}'
    assert browser.api("POST", "/cart/lines", data=one, headers=key).status_code == 200
    assert browser.api("POST", "/cart/lines", data=two, headers=key).json["version"] == 1
    assert browser.cart()["item_count"] == 1


def test_a_refused_request_can_be_retried_under_the_same_key(browser, make_product):
    sku = make_product(stock=3)
    refused = browser.add(sku, 4, **{"Idempotency-Key": "k-4"})
    assert refused.status_code == 409
    assert browser.add(sku, 3, **{"Idempotency-Key": "k-4"}).status_code == 200


def test_unavailable_lines_stay_but_leave_the_subtotal(app, browser, make_product):
    retired, sold_out = make_product(), make_product()
    browser.add(retired, 1)
    browser.add(sold_out, 2)
    with app.app_context():
        from storefront.catalog.services import by_sku
        from storefront.extensions import db

        by_sku(retired).active = False
        by_sku(sold_out).stock = 0
        db.session.commit()
    cart = browser.cart()
    assert [x["available"] for x in cart["lines"]] == [False, False]
    assert cart["subtotal"] == "0.00" and cart["item_count"] == 3


@pytest.mark.parametrize("small_cart", [64, 0], ids=["described-whole", "summed-in-sql"])
def test_a_minimal_answer_totals_the_whole_cart_at_live_prices(
    app, browser, make_product, monkeypatch, small_cart
):
    # Both ways a change totals the cart: describing every line, or summing in the database.
    monkeypatch.setattr("storefront.cart.views.SMALL_CART", small_cart)
    sized = make_product(options="size:S|M|L|XL!")
    retired, sold_out, repriced, last = (make_product() for _ in range(4))
    browser.add(sized, 2, {"size": "M"})
    browser.add(sized, 1, {"size": "L"})  # the same SKU on a second line
    browser.add(retired, 1)
    browser.add(sold_out, 2)
    browser.add(repriced, 3)
    with app.app_context():
        from storefront.catalog.services import by_sku
        from storefront.extensions import db

        by_sku(retired).active = False
        by_sku(sold_out).stock = 0
        by_sku(repriced).price_cents = 1234
        db.session.commit()
    minimal = browser.add(last, 1, Prefer="return=minimal").json
    full = browser.cart()
    assert minimal == {k: full[k] for k in ("version", "item_count", "subtotal")}
    assert full["item_count"] == 10
    expected = sum(Decimal(x["line_total"]) for x in full["lines"] if x["available"])
    assert Decimal(full["subtotal"]) == expected
    assert [x["line_total"] for x in full["lines"] if x["sku"] == repriced] == ["37.02"]
    line_id = browser.line_id(repriced)
    minimal = browser.api(
        "PATCH", f"/cart/lines/{line_id}", {"quantity": 1}, {"Prefer": "return=minimal"}
    ).json
    assert Decimal(minimal["subtotal"]) == expected - Decimal("24.68")
    assert minimal["item_count"] == 8


def test_the_totals_of_costly_lines_do_not_overflow(browser, make_product):
    from storefront.catalog.services import MAX_PRICE_CENTS

    sku = make_product(price=str(Decimal(MAX_PRICE_CENTS).scaleb(-2)))
    answer = browser.add(sku, 3, Prefer="return=minimal")
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert answer.json["subtotal"] == "64424509.41" == browser.cart()["subtotal"]


def test_openapi_describes_every_endpoint(browser):
    spec = browser.api("GET", "/openapi.json").json
    assert spec["openapi"].startswith("3.1")
    assert {"/cart", "/cart/lines", "/cart/lines/{line_id}"} <= set(spec["paths"])


# --- refusals ---------------------------------------------------------------------------------

HOSTILE_ADDS = [
    ({"sku": PLAIN, "quantity": 0}, 422, "invalid_quantity"),
    ({"sku": PLAIN, "quantity": -3}, 422, "invalid_quantity"),
    ({"sku": PLAIN, "quantity": 1.5}, 422, "invalid_quantity"),
    ({"sku": PLAIN, "quantity": 2.0}, 422, "invalid_quantity"),
    ({"sku": PLAIN, "quantity": True}, 422, "invalid_quantity"),
    ({"sku": PLAIN, "quantity": "2"}, 422, "invalid_quantity"),
    ({"sku": PLAIN, "quantity": None}, 422, "invalid_quantity"),
    ({"sku": PLAIN, "quantity": 10**40}, 409, "quantity_limit"),
    ({"sku": PLAIN, "quantity": 1000}, 409, "quantity_limit"),
    ({"sku": LAST_THREE, "quantity": 4}, 409, "out_of_stock"),
    ({"sku": "NOPE-1", "quantity": 1}, 422, "unknown_sku"),
    ({"sku": "X" * 10_000, "quantity": 1}, 422, "unknown_sku"),
    ({"sku": 42, "quantity": 1}, 422, "unknown_sku"),
    ({"sku": SIZED, "quantity": 1}, 422, "invalid_option"),
    ({"sku": SIZED, "quantity": 1, "options": {"size": "XXL"}}, 422, "invalid_option"),
    ({"sku": PLAIN, "quantity": 1, "options": {"size": "M"}}, 422, "invalid_option"),
    (
        {"sku": ENGRAVABLE, "quantity": 1, "options": {"engraving": "x" * 41}},
        422,
        "invalid_option",
    ),
    ({"sku": ENGRAVABLE, "quantity": 1, "options": {"engraving": 7}}, 422, "invalid_option"),
    ({"sku": ENGRAVABLE, "quantity": 1, "options": ["engraving"]}, 400, "bad_request"),
    ({"quantity": 1}, 400, "bad_request"),
    ({"sku": PLAIN, "quantity": 1, "extra": 1}, 400, "bad_request"),
]


def snapshot(browser) -> dict:
    return browser.cart()


@pytest.mark.parametrize(("body", "status", "code"), HOSTILE_ADDS)
def test_hostile_adds_are_refused_clearly_and_change_nothing(
    browser, make_product, sample_catalog, body, status, code
):
    browser.add(make_product(), 2)
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


def test_oversized_bodies_are_413_with_the_json_error(browser, make_product):
    body = json.dumps({"sku": make_product(), "quantity": 1, "options": {"x": "y" * 70_000}})
    response = browser.api(
        "POST", "/cart/lines", data=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413 and response.json["error"]["code"] == "bad_request"


@pytest.mark.parametrize("quantity", [-1, 1.5, "3", None, False])
def test_hostile_patches_are_422(browser, make_product, quantity):
    sku = make_product()
    browser.add(sku, 2)
    before = snapshot(browser)
    line_id = browser.line_id(sku)
    response = browser.api("PATCH", f"/cart/lines/{line_id}", json={"quantity": quantity})
    assert response.status_code == 422 and response.json["error"]["code"] == "invalid_quantity"
    assert snapshot(browser) == before


def test_unknown_and_foreign_line_ids_are_404_and_change_nothing(
    browser, other_browser, make_product
):
    mine, their_product = make_product(), make_product()
    browser.add(mine, 2)
    other_browser.add(their_product, 1)
    theirs = other_browser.line_id(their_product)
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


def test_mutations_without_the_csrf_token_are_403(browser, make_product):
    sku = make_product()
    browser.add(sku)
    before = snapshot(browser)
    for method, path, body in (
        ("POST", "/cart/lines", {"sku": sku, "quantity": 1}),
        ("PATCH", f"/cart/lines/{browser.line_id(sku)}", {"quantity": 4}),
        ("DELETE", "/cart", None),
    ):
        response = browser.client.open("/api/v1" + path, method=method, json=body)
        assert response.status_code == 403 and response.json["error"]["code"] == "csrf_failed"
        wrong = browser.client.open(
            "/api/v1" + path, method=method, json=body, headers={"X-CSRF-Token": "forged"}
        )
        assert wrong.status_code == 403
    assert snapshot(browser) == before


def test_a_token_that_was_valid_for_one_shopper_is_refused_for_another(app, browser, make_product):
    """Verified tokens are remembered (storefront/extensions.py): only for the session they sign."""
    sku = make_product()
    browser.add(sku)  # this shopper's token is now remembered as verified
    browser.add(sku)
    other = Browser(app.test_client())
    other.add(sku)
    before = snapshot(other)
    stolen = other.client.open(
        "/api/v1/cart/lines",
        method="POST",
        json={"sku": sku, "quantity": 1},
        headers={"X-CSRF-Token": browser.csrf},
    )
    assert stolen.status_code == 403 and stolen.json["error"]["code"] == "csrf_failed"
    assert snapshot(other) == before
    assert browser.add(sku).status_code == 200  # still good where it belongs


def test_over_https_a_remembered_token_still_needs_a_referer_of_this_origin(
    app, make_product, monkeypatch
):
    """The shortcut for verified tokens asks over HTTPS what flask-wtf's strict check asks (a
    Referer of this very origin), and still spares the token's second verification."""
    import flask_wtf.csrf

    verified = []
    original = flask_wtf.csrf.validate_csrf
    monkeypatch.setattr(
        flask_wtf.csrf, "validate_csrf", lambda *a, **k: verified.append(1) or original(*a, **k)
    )
    sku = make_product()
    client, https = app.test_client(), "https://shop.example"
    token = client.get("/api/v1/cart", base_url=https).headers["X-CSRF-Token"]

    def add(referer: str | None):
        headers = {"X-CSRF-Token": token, **({"Referer": referer} if referer else {})}
        body = {"sku": sku, "quantity": 1}
        return client.post("/api/v1/cart/lines", json=body, headers=headers, base_url=https)

    assert add(f"{https}/cart").status_code == 200
    assert add(f"{https}/products/{sku}").status_code == 200
    assert len(verified) == 1  # the second add took the shortcut
    for referer in (None, "https://evil.example/cart", "http://shop.example/cart"):
        refused = add(referer)
        assert refused.status_code == 403 and refused.json["error"]["code"] == "csrf_failed"
        assert "did not say this came from a page of this shop" in refused.json["error"]["message"]
    lines = client.get("/api/v1/cart", base_url=https).json["lines"]
    assert [line["quantity"] for line in lines] == [2]


def test_unknown_paths_and_methods_answer_json_errors(browser):
    missing = browser.api("GET", "/nothing-here")
    assert missing.status_code == 404 and missing.json["error"]["code"] == "not_found"
    wrong = browser.api("PUT", "/cart")
    assert wrong.status_code == 405 and wrong.json["error"]["code"] == "bad_request"


def test_idempotency_keys_longer_than_200_characters_are_refused(browser, make_product):
    response = browser.add(make_product(), 1, **{"Idempotency-Key": "k" * 201})
    assert response.status_code == 400 and snapshot(browser)["version"] == 0
