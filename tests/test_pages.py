"""Pages without JavaScript (forms, redirect after POST) and with htmx (fragments)."""

from __future__ import annotations

import re

import pytest

from tests.factories import ENGRAVABLE, PLAIN, SIZED


def lines_on_page(html: str) -> list[tuple[str, int]]:
    rows = re.findall(
        r'data-sku="([^"]+)" data-line-id="[^"]+"[^>]*>.*?data-testid="line-quantity"[^>]*value="(\d+)"',
        html,
        re.S,
    )
    return [(sku, int(q)) for sku, q in rows]


def badge(html: str) -> str:
    return re.search(r'data-testid="cart-count"[^>]*>(\d+)<', html).group(1)


def test_every_page_carries_the_csrf_meta_badge_and_notice_region(browser, make_product):
    product = f"/products/{make_product(options='size:S|M|L|XL!')}"
    for path in ("/", product, "/cart", "/login", "/register", "/products/NOPE"):
        html = browser.page(path).get_data(as_text=True)
        assert '<meta name="csrf-token" content="' in html, path
        assert badge(html) == "0", path
        assert 'data-testid="notice"' in html and 'aria-live="polite"' in html, path


def test_no_js_add_redirects_back_to_the_product_with_a_notice(browser, make_product):
    sku = make_product(name="Honey Mug")
    response = browser.form("/cart/lines", {"sku": sku, "quantity": "2"})
    assert response.status_code == 302 and response.location.endswith(f"/products/{sku}")
    html = browser.page(response.location).get_data(as_text=True)
    assert badge(html) == "2" and "Added 2 × Honey Mug" in html


def test_no_js_cart_page_lists_lines_with_their_controls_and_subtotal(browser, make_product):
    sku = make_product(options="size:S|M|L|XL!")
    browser.form("/cart/lines", {"sku": sku, "quantity": "2", "option-size": "M"})
    html = browser.page("/cart").get_data(as_text=True)
    assert lines_on_page(html) == [(sku, 2)]
    assert 'data-testid="line-remove"' in html and "size: M" in html
    subtotal = re.search(r'data-testid="cart-subtotal">\$([\d,.]+)<', html).group(1)
    assert subtotal == browser.cart()["subtotal"]


def test_no_js_update_and_remove_redirect_to_the_cart(browser, make_product):
    sku = make_product(name="Honey Mug")
    browser.form("/cart/lines", {"sku": sku, "quantity": "2"})
    line_id = browser.line_id(sku)
    response = browser.form(f"/cart/lines/{line_id}", {"quantity": "5"})
    assert response.status_code == 302 and response.location.endswith("/cart")
    assert lines_on_page(browser.page("/cart").get_data(as_text=True)) == [(sku, 5)]
    response = browser.form(f"/cart/lines/{line_id}/remove")
    assert response.status_code == 302
    html = browser.page("/cart").get_data(as_text=True)
    assert lines_on_page(html) == [] and "Removed Honey Mug" in html


def test_a_resubmitted_form_is_not_applied_twice(browser, make_product):
    form = {"sku": make_product(), "quantity": "2", "idempotency_key": "form-key-1"}
    browser.form("/cart/lines", form)
    browser.form("/cart/lines", form)
    assert browser.cart()["item_count"] == 2


def forms_on_page(html: str) -> list[tuple[str, dict[str, str]]]:
    """(action, hidden fields) of each POST form, as a browser without JavaScript sends it."""
    found = []
    for action, body in re.findall(r'<form[^>]*action="([^"]+)"[^>]*>(.*?)</form>', html, re.S):
        fields = dict(re.findall(r'type="hidden" name="([^"]+)" value="([^"]*)"', body))
        found.append((action, fields))
    return found


def test_every_row_form_on_the_cart_page_posts_to_its_line_under_a_key_of_its_own(
    browser, make_product
):
    one, two = make_product(), make_product()
    browser.add(one, 1)
    browser.add(two, 1)
    ids = {line["sku"]: line["id"] for line in browser.cart()["lines"]}
    html = browser.page("/cart").get_data(as_text=True)
    rows = [(a, f) for a, f in forms_on_page(html) if a.startswith("/cart/lines/")]
    assert sorted(a for a, _ in rows) == sorted(
        f"/cart/lines/{line_id}{end}"
        for line_id in ids.values()
        for end in ("", "/remove", "/save")
    )
    keys = [f["idempotency_key"] for _, f in rows]
    assert len(set(keys)) == 6 and all(keys)
    assert all(f["csrf_token"] == browser.csrf for _, f in rows)
    assert f'href="/products/{one}"' in html
    # The quantity form of one row, sent twice as rendered (a double click without JavaScript).
    action, fields = next((a, f) for a, f in rows if a == f"/cart/lines/{ids[two]}")
    for _ in range(2):
        assert browser.form(action, {**fields, "quantity": "3"}).status_code == 302
    assert browser.cart()["item_count"] == 4 and browser.cart()["version"] == 3
    # A fresh render gives fresh keys.
    again = [
        f["idempotency_key"]
        for a, f in forms_on_page(browser.page("/cart").get_data(as_text=True))
        if a.startswith("/cart/lines/")
    ]
    assert not set(again) & set(keys)


def test_the_shown_version_never_refuses_a_page_change(browser, make_product):
    sku = make_product()
    browser.form("/cart/lines", {"sku": sku, "quantity": "1", "version": "0"})
    response = browser.form("/cart/lines", {"sku": sku, "quantity": "1", "version": "0"})
    assert response.status_code == 302 and browser.cart()["item_count"] == 2


def test_htmx_add_keeps_the_form_and_updates_badge_and_notice_out_of_band(browser, make_product):
    sku = make_product(name="Honey Mug")
    page = browser.page(f"/products/{sku}").get_data(as_text=True)
    assert re.search(r'<form id="add-form"[^>]*hx-swap="none"', page)
    response = browser.form("/cart/lines", {"sku": sku, "quantity": "3"}, htmx=True)
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" not in html
    # The form is not replaced (a quick second click must find htmx's own form): only
    # out-of-band pieces travel.
    assert 'id="add-form"' not in html
    assert re.search(r'id="cart-count"[^>]*hx-swap-oob="true"[^>]*>3<', html)
    assert 'id="notice" hx-swap-oob="innerHTML"' in html and "Added 3 × Honey Mug" in html


def test_htmx_quantity_change_returns_the_row_and_the_summary(browser, make_product):
    changed, other = make_product(), make_product()
    browser.add(changed, 1)
    browser.add(other, 1)
    line_id = browser.line_id(changed)
    html = browser.form(f"/cart/lines/{line_id}", {"quantity": "4"}, htmx=True).get_data(
        as_text=True
    )
    assert lines_on_page(html) == [(changed, 4)]  # only the changed row travels
    assert re.search(r'id="cart-summary"[^>]*hx-swap-oob="true"', html)
    assert re.search(r'id="cart-state"[^>]*data-cart-version="3"', html)
    assert re.search(r'id="cart-count"[^>]*>5<', html)
    # The summary covers the whole cart, not only the row that travelled.
    assert "5 items in 2 lines" in html
    assert f'data-testid="cart-subtotal">${browser.cart()["subtotal"]}<' in html


def test_htmx_remove_returns_no_row(browser, make_product):
    sku = make_product()
    browser.add(sku, 1)
    line_id = browser.line_id(sku)
    html = browser.form(f"/cart/lines/{line_id}/remove", htmx=True).get_data(as_text=True)
    assert 'data-testid="cart-line"' not in html and "Your cart is empty" in html


def test_htmx_refusals_retarget_the_notice_with_the_reason(browser, make_product):
    sku = make_product(stock=3)
    response = browser.form("/cart/lines", {"sku": sku, "quantity": "4"}, htmx=True)
    assert response.status_code == 409
    assert response.headers["HX-Retarget"] == "#notice"
    assert f"Only 3 of {sku} in stock" in response.get_data(as_text=True)


@pytest.mark.parametrize(
    ("form", "status"),
    [
        ({"sku": PLAIN, "quantity": "abc"}, 422),
        ({"sku": PLAIN, "quantity": "1.5"}, 422),
        ({"sku": PLAIN, "quantity": "0"}, 422),
        ({"sku": PLAIN, "quantity": "9" * 40}, 422),
        ({"sku": PLAIN, "quantity": "99999999999"}, 409),
        ({"sku": "NOPE", "quantity": "1"}, 422),
        ({"sku": SIZED, "quantity": "1"}, 422),
        ({"sku": SIZED, "quantity": "1", "option-size": "XXL"}, 422),
        ({"sku": ENGRAVABLE, "quantity": "1", "option-engraving": "x" * 41}, 422),
    ],
)
def test_bad_forms_get_a_friendly_page_and_change_nothing(
    browser, make_product, sample_catalog, form, status
):
    browser.add(make_product(), 1)
    before = browser.cart()
    response = browser.form("/cart/lines", form)
    assert response.status_code == status
    html = response.get_data(as_text=True)
    assert "Nothing in your cart was changed" in html and 'role="alert"' in html
    assert browser.cart() == before


def test_forms_without_a_valid_csrf_token_are_refused(browser, make_product):
    sku = make_product()
    browser.add(sku)
    before = browser.cart()
    line_id = browser.line_id(sku)
    for path, data in (
        ("/cart/lines", {"sku": sku, "quantity": "1"}),
        (f"/cart/lines/{line_id}", {"quantity": "9"}),
        (f"/cart/lines/{line_id}/remove", {}),
        ("/cart/clear", {}),
    ):
        assert browser.client.post(path, data=data).status_code == 403
        assert browser.client.post(path, data={**data, "csrf_token": "forged"}).status_code == 403
    assert browser.cart() == before


def test_a_tampered_cookie_serves_a_fresh_guest_and_mutations_get_403(app, browser, make_product):
    sku = make_product()
    browser.add(sku, 2)
    value = browser.client.get_cookie("storefront").value
    tampered = value[:-3] + ("AAA" if not value.endswith("AAA") else "BBB")
    stranger = app.test_client()
    stranger.set_cookie("storefront", tampered)
    page = stranger.get("/cart")
    assert page.status_code == 200 and badge(page.get_data(as_text=True)) == "0"
    response = stranger.post(
        "/api/v1/cart/lines",
        json={"sku": sku, "quantity": 1},
        headers={"X-CSRF-Token": browser.csrf},
    )
    assert response.status_code == 403 and response.json["error"]["code"] == "csrf_failed"
    assert browser.cart()["item_count"] == 2


def test_other_foreign_line_ids_on_pages_are_404(browser, other_browser, make_product):
    browser.add(make_product())
    their_product = make_product()
    other_browser.add(their_product)
    theirs = other_browser.line_id(their_product)
    assert browser.form(f"/cart/lines/{theirs}", {"quantity": "3"}).status_code == 404
    assert browser.form(f"/cart/lines/{theirs}/remove").status_code == 404
    assert other_browser.cart()["lines"][0]["quantity"] == 1


def test_unavailable_lines_say_so_on_the_cart_page(app, browser, make_product):
    sku = make_product()
    browser.add(sku)
    with app.app_context():
        from storefront.catalog.services import by_sku
        from storefront.extensions import db

        by_sku(sku).stock = 0
        db.session.commit()
    html = browser.page("/cart").get_data(as_text=True)
    assert "No longer available" in html and "$0.00" in html


def test_health_endpoints(browser):
    assert browser.page("/healthz").json == {"status": "ok"}
    assert browser.page("/readyz").json == {"status": "ok"}


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/static/css/site.css"])
def test_health_checks_and_static_files_never_make_a_shopper(app, path):
    # A load balancer's probes (and a page's assets) get no cookie and leave no session.
    response = app.test_client().get(path)
    assert response.status_code == 200
    assert "Set-Cookie" not in response.headers


@pytest.mark.parametrize("value", ["Ab-12_x.y~z", "a b", "ä", "x/y", "__row__"])
def test_row_urls_are_the_urls_url_for_builds(app, value):
    from flask import url_for

    from storefront.web import url_for_row

    with app.test_request_context("/cart"):
        url_for_row("cart.remove", "line_id", "warm-the-shape")
        assert url_for_row("cart.remove", "line_id", value) == url_for("cart.remove", line_id=value)
        assert url_for_row("catalog.product", "sku", value) == url_for("catalog.product", sku=value)


def test_a_large_cart_page_shows_its_first_rows_and_fetches_the_rest_in_order(
    browser, make_products
):
    skus = make_products(230)
    for sku in skus:
        assert browser.add(sku, Prefer="return=minimal").status_code == 200
    html = browser.page("/cart").get_data(as_text=True)
    assert [sku for sku, _ in lines_on_page(html)] == skus[:100]
    assert "230 items in 230 lines" in html  # the summary counts the whole cart
    more = re.search(r'id="more-lines"[^>]*hx-get="([^"]+)"[^>]*hx-trigger="revealed"', html)
    assert more and 'href="/cart?rows=all"' in html  # without JavaScript: every row
    seen = lines_on_page(html)
    url = more.group(1).replace("&amp;", "&")
    while url:
        part = browser.page(url).get_data(as_text=True)
        seen += lines_on_page(part)
        found = re.search(r'id="more-lines"[^>]*hx-get="([^"]+)"', part)
        url = found.group(1).replace("&amp;", "&") if found else ""
    assert [sku for sku, _ in seen] == skus
    everything = browser.page("/cart?rows=all").get_data(as_text=True)
    assert [sku for sku, _ in lines_on_page(everything)] == skus
    assert 'id="more-lines"' not in everything


def test_rows_fetched_after_a_removal_skip_and_repeat_nothing(browser, make_products):
    skus = make_products(150)
    for sku in skus:
        browser.add(sku, Prefer="return=minimal")
    html = browser.page("/cart").get_data(as_text=True)
    url = re.search(r'id="more-lines"[^>]*hx-get="([^"]+)"', html).group(1).replace("&amp;", "&")
    # Another device removes a row this page already shows, before it scrolls down.
    browser.api("DELETE", f"/cart/lines/{browser.line_id(skus[10])}")
    rest = lines_on_page(browser.page(url).get_data(as_text=True))
    assert [sku for sku, _ in rest] == skus[100:]
