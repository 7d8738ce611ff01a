"""Who may do what: every route and the socket, for a guest, another shopper, the owner and
support. Each cell runs on fresh data and checks the owner's cart afterwards."""

from __future__ import annotations

import re

import pytest

from tests.factories import PLAIN, SIZED
from tests.helpers import Browser
from tests.live import HttpShopper, open_page_socket, serve

OWNER, OTHER, AGENT = "owner@example.com", "other@example.com", "agent@example.com"
ROLES = ("guest", "other", "owner", "support")


@pytest.fixture
def world(app, make_product, sample_catalog):
    owned = make_product()
    owner = Browser(app.test_client())
    owner.register(OWNER)
    owner.add(owned, 2)
    owner.add(make_product(), 1)
    other = Browser(app.test_client())
    other.register(OTHER)
    agent = Browser(app.test_client())
    agent.register(AGENT)
    assert app.test_cli_runner().invoke(args=["users", "grant-support", AGENT]).exit_code == 0
    guest = Browser(app.test_client())
    guest.page("/")
    owner_id = re.search(
        r'name="user_id" value="(\d+)"',
        agent.page(f"/support?email={OWNER}").get_data(as_text=True),
    ).group(1)
    return {
        "browsers": {"guest": guest, "other": other, "owner": owner, "support": agent},
        "line": owner.line_id(owned),
        "owner_id": owner_id,
        "owner": owner,
    }


# (method, path, form or JSON body, expected status for guest, other, owner, support)
ROUTES = [
    ("GET", "/", None, (200, 200, 200, 200)),
    ("GET", f"/products/{SIZED}", None, (200, 200, 200, 200)),
    ("GET", "/cart", None, (200, 200, 200, 200)),
    ("GET", "/cart/history", None, (200, 200, 200, 200)),
    ("GET", "/cart/sync", None, (200, 200, 200, 200)),
    ("GET", "/login", None, (200, 200, 200, 200)),
    ("GET", "/register", None, (200, 200, 200, 200)),
    ("GET", "/account", None, (302, 200, 200, 200)),
    ("GET", "/account/export", None, (401, 200, 200, 200)),
    ("GET", "/support", None, (403, 403, 403, 200)),
    ("GET", "/healthz", None, (200, 200, 200, 200)),
    ("FORM", "/cart/lines", {"sku": PLAIN, "quantity": "1"}, (302, 302, 302, 302)),
    ("FORM", "/cart/lines/{line}", {"quantity": "5"}, (404, 404, 302, 404)),
    ("FORM", "/cart/lines/{line}/remove", {}, (404, 404, 302, 404)),
    ("FORM", "/cart/restore", {"revision": "1"}, (404, 404, 302, 404)),
    ("FORM", "/cart/clear", {}, (302, 302, 302, 302)),
    ("FORM", "/session/renew", {}, (401, 302, 302, 302)),
    ("FORM", "/logout", {}, (302, 302, 302, 302)),
    ("FORM", "/support/restore", {"user_id": "{owner_id}", "revision": "1"}, (403, 403, 403, 302)),
    ("FORM", "/account/delete", {"password": "wrong password"}, (401, 403, 403, 403)),
    ("GET", "/api/v1/cart", None, (200, 200, 200, 200)),
    ("GET", "/api/v1/cart/history", None, (200, 200, 200, 200)),
    ("GET", "/api/v1/openapi.json", None, (200, 200, 200, 200)),
    ("POST", "/api/v1/cart/lines", {"sku": PLAIN, "quantity": 1}, (200, 200, 200, 200)),
    ("PATCH", "/api/v1/cart/lines/{line}", {"quantity": 4}, (404, 404, 200, 404)),
    ("DELETE", "/api/v1/cart/lines/{line}", None, (404, 404, 200, 404)),
    ("POST", "/api/v1/cart/restore", {"revision": 1}, (404, 404, 200, 404)),
    ("DELETE", "/api/v1/cart", None, (200, 200, 200, 200)),
]
OWNER_CART_CHANGES = {
    "/cart/lines/{line}",
    "/cart/lines/{line}/remove",
    "/cart/restore",
    "/support/restore",
    "/api/v1/cart/lines/{line}",
    "/api/v1/cart/restore",
}


def fill(text: str, world: dict) -> str:
    return text.replace("{line}", world["line"]).replace("{owner_id}", world["owner_id"])


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(
    ("method", "path", "body", "expected"), ROUTES, ids=[f"{r[0]} {r[1]}" for r in ROUTES]
)
def test_authorization_matrix(world, role, method, path, body, expected):
    browser = world["browsers"][role]
    owner_before = world["owner"].cart()
    url = fill(path, world)
    if method == "GET":
        response = browser.client.get(url, headers=browser.headers())
    elif method == "FORM":
        response = browser.form(url, {k: fill(v, world) for k, v in body.items()})
    else:
        response = browser.api(method, url.removeprefix("/api/v1"), json=body)
    assert response.status_code == expected[ROLES.index(role)], response.get_data(as_text=True)[
        :300
    ]
    changes_owner = (path in OWNER_CART_CHANGES and response.status_code < 400) or (
        role == "owner" and method != "GET" and path not in ("/logout", "/session/renew")
    )
    if not changes_owner and role != "owner":
        assert world["owner"].cart() == owner_before  # nobody else touched the owner's cart


def test_the_socket_serves_each_role_only_its_own_cart(app, world):
    with serve(app) as base:
        carts = {}
        for role, browser in world["browsers"].items():
            shopper = HttpShopper(
                base, cookie="storefront=" + browser.client.get_cookie("storefront").value
            )
            ws = open_page_socket(base, shopper.cookie)
            hello = ws.receive(timeout=5)
            carts[role] = re.search(r'data-cart-id="(\d*)"', hello).group(1)
            ws.close()
        # Only the owner has a cart: nobody else's socket is told of it.
        assert carts["owner"] != "" and carts["guest"] == carts["other"] == carts["support"] == ""
