"""Every refusal names its code in X-Error-Code (JSON API, htmx and plain pages alike), and a
405 says in Allow what the address does accept (RFC 9110), without losing the JSON shape."""

from __future__ import annotations

import re

from storefront.api import openapi, parsing
from storefront.catalog import services as catalog


def test_a_json_refusal_carries_its_code_in_a_header(browser, make_product):
    response = browser.add("NO-SUCH-SKU")
    assert response.status_code == 422
    assert response.headers["X-Error-Code"] == "unknown_sku"
    assert response.json["error"]["code"] == "unknown_sku"

    body = {"sku": make_product(), "quantity": 1}
    empty_if_match = browser.api("POST", "/cart/lines", json=body, headers={"If-Match": ""})
    assert empty_if_match.status_code == 400
    assert empty_if_match.headers["X-Error-Code"] == "bad_request"


def test_an_htmx_refusal_carries_its_code_in_a_header(browser, make_product):
    form = {"sku": make_product(), "quantity": "0"}
    response = browser.form("/cart/lines", form, htmx=True)
    assert response.status_code == 422
    assert response.headers["X-Error-Code"] == "invalid_quantity"
    assert response.headers["HX-Retarget"] == "#notice"


def test_a_page_refusal_carries_its_code_in_a_header(browser):
    response = browser.page("/products/NO-SUCH-SKU")
    assert response.status_code == 404
    assert response.headers["X-Error-Code"] == "not_found"
    assert "text/html" in response.headers["Content-Type"]


def test_a_405_says_which_methods_are_allowed_and_keeps_the_json_shape(browser):
    for method, path, expected in (
        ("TRACE", "/cart", {"GET", "DELETE"}),
        ("PUT", "/cart/lines", {"POST"}),
        ("POST", "/cart/history", {"GET"}),
    ):
        response = browser.api(method, path)
        assert response.status_code == 405, (method, path)
        assert response.headers["X-Error-Code"] == "bad_request"
        assert response.json["error"]["code"] == "bad_request"
        assert response.headers["Content-Type"] == "application/json"
        allowed = {m.strip() for m in response.headers["Allow"].split(",")}
        assert expected <= allowed and method not in allowed, (path, allowed)


def test_a_page_405_says_which_methods_are_allowed(browser):
    response = browser.client.open("/cart", method="DELETE")
    assert response.status_code == 405
    assert "GET" in response.headers["Allow"]
    assert response.headers["X-Error-Code"] == "bad_request"


def test_the_openapi_patterns_are_the_ones_the_server_applies():
    if_match = re.compile(openapi.IF_MATCH_PATTERN)
    for value in ('"7"', ' "123" ', '"000000000000000000"'):
        assert if_match.search(value) and parsing.IF_MATCH.match(value), value
    for value in ("", "7", '"7', '"-1"', '"1.0"', 'W/"7"', '"1234567890123456789"', "*"):
        assert not if_match.search(value) and not parsing.IF_MATCH.match(value), value
    assert catalog.SKU.pattern == openapi.SKU_PATTERN
    add_line = openapi.SCHEMAS["AddLine"]["properties"]["sku"]
    assert add_line["minLength"] == 1 and add_line["pattern"] == catalog.SKU.pattern
