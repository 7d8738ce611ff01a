"""Live catalog: a product's new price, stock or retirement reaches open pages and carts.

The words a shopper is told, the cart's memory of the price each line was added at (and carts
saved before it), the one event ``catalog.changes.announce`` publishes, the cart's own lines
fetched after it, and the event crossing instances through Redis.
"""

from __future__ import annotations

import json
import re
import secrets
import time
import zlib

import pytest
from sqlalchemy import select

from storefront import create_app, realtime
from storefront.cart import codec, state, store, views
from storefront.cart.ops import AddLine, MergeIn, SetQuantity
from storefront.cart.state import Cart, Limits, Line
from storefront.cart.types import Owner
from storefront.catalog import changes
from storefront.catalog.changes import ProductFacts
from storefront.catalog.services import by_sku
from storefront.extensions import db
from storefront.realtime.registry import Registry, Subscription
from tests.conftest import app_settings
from tests.live import HttpShopper, serve
from tests.test_realtime import REDIS_URL, connect, receive_until


def dollars(cents: int) -> str:
    return f"${cents / 100:,.2f}"


def facts(**changed) -> ProductFacts:
    base = {"sku": "MUG", "name": "Blue Mug", "price_cents": 578, "stock": 50, "active": True}
    return ProductFacts(**{**base, **changed})


# --- the words ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("before", "after", "words"),
    [
        ({}, {"price_cents": 499}, "Blue Mug is now $4.99, was $5.78."),
        ({}, {"name": "Red Mug", "stock": 2}, "Only 2 Red Mugs left."),
        ({}, {"stock": 1}, "Only 1 Blue Mug left."),
        ({}, {"name": "Green Mug", "active": False}, "Green Mug is no longer available."),
        ({}, {"stock": 0}, "Blue Mug is out of stock."),
        ({"stock": 0}, {"stock": 30}, "Blue Mug is back in stock."),
        ({"active": False}, {"stock": 30}, "Blue Mug is available again."),
        ({"active": False}, {"stock": 3}, "Blue Mug is available again. Only 3 Blue Mugs left."),
        (
            {},
            {"price_cents": 999, "stock": 4},
            "Blue Mug is now $9.99, was $5.78. Only 4 Blue Mugs left.",
        ),
        ({"stock": 5}, {"stock": 4}, "Only 4 Blue Mugs left."),
        # Nothing a shopper needs telling: plenty in stock either way, or already retired.
        ({}, {"stock": 40}, ""),
        ({"active": False}, {"active": False, "price_cents": 100}, ""),
        ({}, {"name": "Blue Mug (large)"}, ""),
    ],
)
def test_the_notice_says_what_changed_in_words(before, after, words):
    assert changes.notice(facts(**before), facts(**after), dollars) == words


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("Wine Glass", "Only 2 Wine Glasses left."),
        ("Berry", "Only 2 Berries left."),
        ("Tray", "Only 2 Trays left."),
        ("Coffee 1kg", "Only 2 of Coffee 1kg left."),  # no plural guessed for what is no word
        ("USB", "Only 2 of USB left."),
    ],
)
def test_how_many_are_left_is_said_of_any_name(name, words):
    assert changes.notice(facts(name=name), facts(name=name, stock=2), dollars) == words


def test_availability_has_one_wording_for_every_page():
    assert changes.availability(facts(active=False)) == "No longer available."
    assert changes.availability(facts(stock=0)) == "Out of stock."
    assert changes.availability(facts(stock=9)) == "Only 9 left."
    assert changes.availability(facts(stock=10)) == "In stock."


# --- the cart remembers the price ---------------------------------------------------------------


def old_cart_bytes(rows: list) -> bytes:
    """A cart as the codec wrote it before lines remembered their price."""
    return zlib.compress(json.dumps(rows).encode())


def test_carts_saved_before_prices_were_remembered_still_open_with_the_price_unknown():
    cart = codec.decode_cart(old_cart_bytes([["a", "MUG", 2], ["b", "TEE", 1, {"size": "M"}]]))
    assert cart.lines == (
        Line("a", "MUG", 2, (), None),
        Line("b", "TEE", 1, (("size", "M"),), None),
    )
    assert codec.decode_op(b'["a","c","MUG",3]') == AddLine("c", "MUG", 3, (), None)
    assert codec.decode_op(b'["m",[["d","TEE",1,{"size":"S"}]]]') == MergeIn(
        (AddLine("d", "TEE", 1, (("size", "S"),), None),)
    )


def test_the_price_a_line_was_added_at_survives_encoding():
    cart = Cart.of(
        [
            Line("a", "MUG", 2, (), 578),
            Line("b", "TEE", 1, (("size", "M"),), 1999),
            Line("c", "OLD", 1, (), None),
            Line("d", "FREE", 1, (), 0),
        ]
    )
    assert codec.decode_cart(codec.encode_cart(cart)).lines == cart.lines
    add = AddLine("e", "MUG", 1, (("colour", "blue"),), 499)
    assert codec.decode_op(codec.encode_op(add)) == add
    merge = MergeIn((add, AddLine("f", "TEE", 2, (), None)))
    assert codec.decode_op(codec.encode_op(merge)) == merge


def test_adding_again_remembers_the_latest_price_and_other_changes_keep_it():
    limits = Limits(max_lines=10, max_line_quantity=99, stock={"MUG": 50})
    cart = state.apply(state.EMPTY, AddLine("a", "MUG", 1, (), 578), limits)
    cart = state.apply(cart, SetQuantity("a", 3, "MUG"), limits)
    assert cart.line("a").price_cents == 578
    cart = state.apply(cart, AddLine("z", "MUG", 1, (), 499), limits)
    assert cart.line("a") == Line("a", "MUG", 4, (), 499)
    # An older op without a price leaves the one remembered.
    cart = state.apply(cart, AddLine("y", "MUG", 1), limits)
    assert cart.line("a").price_cents == 499
    # Replaying the log (history, restore) gives the same prices as applying it.
    ops = [
        AddLine("a", "MUG", 1, (), 578),
        SetQuantity("a", 3, "MUG"),
        AddLine("z", "MUG", 1, (), 499),
    ]
    assert state.replay(state.EMPTY, ops).line("a") == Line("a", "MUG", 4, (), 499)
    # A merge brings the guest line's price along.
    merged, _ = state.merge(state.EMPTY, Cart.of([Line("g", "MUG", 2, (), 578)]), limits)
    assert merged.lines[0].price_cents == 578


# --- the registry: one socket, its own channel and the catalog's --------------------------------


def test_a_socket_listening_on_two_channels_hears_each_once_and_leaves_both():
    registry = Registry()
    page = Subscription("user:1", also=(changes.CHANNEL,))
    other = Subscription("user:2", also=(changes.CHANNEL,))
    registry.add(page)
    registry.add(other)
    assert registry.deliver(changes.CHANNEL, {"html": "event"}) == 2
    assert page.inbox.get(timeout=1) == "event" and other.inbox.get(timeout=1) == "event"
    registry.deliver("user:1", {"html": "mine"})
    assert page.inbox.get(timeout=1) == "mine" and other.inbox.empty()
    assert len(registry) == 2  # each socket counted once
    registry.broadcast("all")
    assert page.inbox.get(timeout=1) == "all" and page.inbox.empty()
    registry.remove(page)
    assert registry.deliver(changes.CHANNEL, {"html": "later"}) == 1
    assert registry.deliver("user:1", {"html": "later"}) == 0


# --- announce: the one event ----------------------------------------------------------------------


@pytest.fixture
def heard(app):
    """What this process's pages on the catalog channel receive (the default broker delivers
    to this process's sockets at once)."""
    with app.app_context():
        subscription = Subscription("guest:test", also=(changes.CHANNEL,))
        realtime.registry().add(subscription)

    def messages() -> list[str]:
        got = []
        while not subscription.inbox.empty():
            got.append(subscription.inbox.get())
        return got

    yield messages
    with app.app_context():
        realtime.registry().remove(subscription)


def change(app, sku: str, **values) -> tuple[ProductFacts, ProductFacts]:
    """A staff change as the back office makes it: snapshot, change, commit, announce."""
    with app.app_context():
        product = by_sku(sku)
        before = changes.snapshot(product)
        for name, value in values.items():
            setattr(product, name, value)
        db.session.commit()
        after = changes.snapshot(product)
        changes.announce(before, after)
        return before, after


def test_a_price_change_is_published_once_with_the_sku_its_new_facts_and_the_words(
    app, make_product, heard
):
    sku = make_product(name="Blue Mug", price="5.78", stock=50)
    change(app, sku, price_cents=499)
    (event,) = heard()
    assert event.count('data-control="catalog"') == 1
    assert f'data-sku="{sku}"' in event and 'data-available="true"' in event
    assert '<span data-piece="price">$4.99</span>' in event
    assert '<span data-piece="availability">In stock.</span>' in event
    assert '<span data-piece="notice">Blue Mug is now $4.99, was $5.78.</span>' in event
    assert "csrf" not in event.lower()  # one rendering for every page of every shopper


def test_stock_and_retirement_are_published_with_what_pages_say(app, make_product, heard):
    sku = make_product(name="Red Mug", price="3.00", stock=50)
    change(app, sku, stock=2)
    change(app, sku, active=False)
    low, retired = heard()
    assert '<span data-piece="availability">Only 2 left.</span>' in low
    assert "Only 2 Red Mugs left." in low
    assert 'data-available="false"' in retired
    assert '<span data-piece="availability">No longer available.</span>' in retired
    assert "Red Mug is no longer available." in retired


def test_nothing_is_published_when_nothing_shown_changed_or_the_product_is_new(
    app, make_product, heard
):
    sku = make_product()
    change(app, sku, description="Now with a longer story.")
    with app.app_context():
        changes.announce(None, changes.snapshot(by_sku(sku)))
    assert heard() == []


def test_many_changes_travel_a_hundred_to_a_message(app, make_products, heard):
    skus = make_products(150, stock=50)
    with app.app_context():
        before = changes.facts_by_sku()
        for sku in skus:
            by_sku(sku).stock = 5
        db.session.commit()
        after = changes.facts_by_sku()
        published = changes.announce_many((before.get(s), f) for s, f in after.items())
    assert published == 150
    messages = heard()
    assert [m.count('data-control="catalog"') for m in messages] == [100, 50]


def test_import_products_announces_what_it_changed(app, make_product, heard, tmp_path):
    changed, same = make_product(name="Blue Mug", price="5.78"), make_product(price="1.00")
    path = tmp_path / "prices.csv"
    path.write_text(
        "sku,name,price,stock\n"
        f"{changed},Blue Mug,4.99,100\n"
        f"{same},Product {same},1.00,100\n"
        "NEW-LIVE-1,New,2.00,5\n"
    )
    result = app.test_cli_runner().invoke(args=["import-products", str(path)])
    assert result.exit_code == 0, result.output
    (event,) = heard()
    assert f'data-sku="{changed}"' in event and "Blue Mug is now $4.99, was $5.78." in event
    assert same not in event and "NEW-LIVE-1" not in event


# --- pages: what a change updates, and the cart's own lines -------------------------------------


def test_product_and_catalog_pages_mark_what_a_change_updates(browser, make_product):
    sku = make_product(name="Quokka Plate", price="5.00", stock=3)
    page = browser.page(f"/products/{sku}").get_data(as_text=True)
    assert f'data-product-sku="{sku}"' in page
    assert re.search(rf'data-live-sku="{sku}" data-live="price">\$5\.00<', page)
    assert re.search(rf'data-live-sku="{sku}" data-live="availability">Only 3 left\.<', page)
    button = re.search(r'<button[^>]*data-testid="add-to-cart"[^>]*>', page).group(0)
    assert f'data-live-sku="{sku}"' in button and "disabled" not in button
    listing = browser.page(f"/?q={sku}").get_data(as_text=True)
    assert re.search(rf'data-live-sku="{sku}" data-live="price">\$5\.00<', listing)


def test_an_out_of_stock_product_page_shows_the_form_with_its_button_disabled(
    browser, make_product
):
    sku = make_product(stock=0)
    page = browser.page(f"/products/{sku}").get_data(as_text=True)
    assert "Out of stock." in page
    assert re.search(r'<button[^>]*data-testid="add-to-cart"[^>]*\bdisabled\b', page)


def test_the_cart_says_what_changed_since_a_line_was_added_even_after_a_restart(
    app, browser, make_product, database_url, tmp_path
):
    sku = make_product(name="Blue Mug", price="5.78")
    assert browser.add(sku, 2).status_code == 200
    assert "was" not in browser.page("/cart").get_data(as_text=True).split("cart-lines")[1]
    change(app, sku, price_cents=499)
    page = browser.page("/cart").get_data(as_text=True)
    assert "Blue Mug is now $4.99, was $5.78 when you added it." in page
    assert re.search(r'data-testid="cart-subtotal">\$9\.98<', page)
    # Another process on the same database (a restart): the sealed cart still knows.
    again = create_app(app_settings(database_url, str(tmp_path / "again")))
    restarted = again.test_client()
    restarted.set_cookie(*_cookie(browser))
    assert "was $5.78 when you added it" in restarted.get("/cart").get_data(as_text=True)
    with again.app_context():
        db.engine.dispose()
    # Added again at today's price: nothing left to say.
    assert browser.add(sku, 1).status_code == 200
    assert "when you added it" not in browser.page("/cart").get_data(as_text=True)


def _cookie(browser) -> tuple[str, str]:
    cookie = browser.client.get_cookie("storefront")
    return cookie.key, cookie.value


def test_a_line_from_before_prices_were_remembered_says_nothing_of_a_change(
    app, browser, make_product
):
    sku = make_product(name="Old Mug", price="5.78")
    assert browser.add(sku, 1).status_code == 200  # makes the cart; then a line as saved before
    owner = _owner_of(app, browser)
    with app.test_request_context():
        op = AddLine("legacy", sku, 1, (("note", "x"),))  # no price: an old revision
        store.write(owner, lambda cart: (op, state.apply(cart, op)))
    change(app, sku, price_cents=499)
    page = browser.page("/cart").get_data(as_text=True)
    assert page.count("when you added it") == 1  # the line added today, not the old one


def _owner_of(app, browser) -> Owner:
    """The owner of the only open cart in this test's database (the browser's)."""
    from storefront.cart.models import Cart as CartRow

    with app.app_context():
        (row,) = db.session.scalars(select(CartRow).where(CartRow.status == "open")).all()
        return Owner(user_id=row.user_id, guest_key=row.guest_key)


def test_the_cart_fetches_its_lines_of_a_changed_product_at_their_new_price(
    app, browser, make_product
):
    mug, tee, elsewhere = (
        make_product(name="Blue Mug", price="5.78"),
        make_product(price="10.00"),
        make_product(),
    )
    browser.add(mug, 2)
    browser.add(tee, 1)
    version = browser.cart()["version"]
    change(app, mug, price_cents=499, stock=1)
    response = browser.client.get(f"/cart/catalog?sku={mug}&sku={elsewhere}")
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert body.count('data-testid="cart-line"') == 1 and f'data-sku="{mug}"' in body
    assert "$4.99 each" in body and "Only 1 left in stock." in body
    assert re.search(r'data-testid="cart-subtotal">\$19\.98<', body)  # 2 × 4.99 + 10.00
    assert f'data-cart-version="{version}"' in body and "csrf_token" not in body
    assert browser.cart()["version"] == version  # reading it changed nothing
    assert browser.client.get(f"/cart/catalog?sku={elsewhere}").status_code == 204
    assert browser.client.get("/cart/catalog").status_code == 204
    assert browser.client.get("/cart/catalog?sku=" + "x" * 5000).status_code == 204
    many = "&".join(f"sku=N{n}" for n in range(500))
    assert browser.client.get(f"/cart/catalog?{many}&sku={mug}").status_code == 204


def test_a_large_carts_lines_of_a_product_come_with_totals_summed_in_the_database(
    app, browser, make_products
):
    skus = make_products(views.SMALL_CART + 6, price="1.00")
    for sku in skus:
        assert browser.add(sku, 1).status_code == 200
    change(app, skus[0], price_cents=300)
    body = browser.client.get(f"/cart/catalog?sku={skus[0]}").get_data(as_text=True)
    assert body.count('data-testid="cart-line"') == 1
    assert re.search(rf'data-testid="cart-subtotal">\${len(skus) + 2}\.00<', body)


def test_a_large_cart_shown_again_unchanged_is_not_described_again_yet_shows_each_change(
    app, browser, make_products, monkeypatch
):
    """A large cart's view (and its JSON) is reused while neither the cart nor its products
    changed; a product changed in the database by anyone (here without an announcement) or a
    change to the cart shows in the next answer."""
    skus = make_products(views.SMALL_CART + 6, price="1.00", name="Crème brûlée \u201cdeluxe\u201d")
    for sku in skus:
        assert browser.add(sku, 1).status_code == 200
    described = []  # the lines described, one by one
    line_view = views._line_view
    monkeypatch.setattr(
        views,
        "_line_view",
        lambda line, product: described.append(line.sku) or line_view(line, product),
    )
    first = browser.client.get("/api/v1/cart").get_data()
    again = browser.client.get("/api/v1/cart").get_data()
    assert again == first
    assert len(described) == len(skus)
    with app.app_context():  # straight to the table: no event, no announcement
        db.session.execute(
            by_sku(skus[3])
            .__table__.update()
            .where(by_sku(skus[3]).__table__.c.sku == skus[3])
            .values(price_cents=250, stock=0)
        )
        db.session.commit()
    repriced = browser.cart()
    line = next(x for x in repriced["lines"] if x["sku"] == skus[3])
    assert (line["unit_price"], line["available"]) == ("2.50", False)
    assert repriced["subtotal"] == f"{len(skus) - 1}.00"
    assert described[len(skus) :] == [skus[3]]  # only the changed product's line again
    del described[:]
    assert browser.add(skus[0], 2, Prefer="return=minimal").status_code == 200
    grown = browser.cart()
    assert grown["item_count"] == len(skus) + 2
    assert grown["version"] == repriced["version"] + 1
    assert next(x for x in grown["lines"] if x["sku"] == skus[0])["quantity"] == 3
    # Only the line the change touched: in the add's own answer, then in the next GET.
    assert described == [skus[0], skus[0]]
    # What it answers is byte for byte what jsonify would have written.
    written = browser.client.get("/api/v1/cart").get_data()
    monkeypatch.setattr("storefront.api.routes.SMALL_CART", 10**9)  # always jsonify
    assert browser.client.get("/api/v1/cart").get_data() == written
    page = browser.client.get("/cart").get_data(as_text=True)
    assert f'data-testid="cart-subtotal">${len(skus) + 1}.00<' in page


@pytest.mark.parametrize("sort_keys", [False, True])
def test_a_large_carts_json_is_what_jsonify_writes_whatever_its_lines_and_json_settings(
    app, browser, make_products, monkeypatch, sort_keys
):
    """Lines with options and awkward words, under the app's JSON settings (its lines are
    written by hand) and with keys sorted (jsonify writes it all)."""
    skus = make_products(
        views.SMALL_CART + 2,
        price="1.00",
        name='Tea "Earl" \\ Grey \u2615',
        options="engraving:text(40)",
    )
    for n, sku in enumerate(skus):
        engraving = {"engraving": f'For "Ann" \\ n\u00b0{n} \U0001f381'} if n % 2 else None
        assert browser.add(sku, 1, engraving).status_code == 200
    monkeypatch.setattr(app.json, "sort_keys", sort_keys)
    written = browser.client.get("/api/v1/cart").get_data()
    assert json.loads(written)["lines"][1]["options"] == {
        "engraving": 'For "Ann" \\ n\u00b01 \U0001f381'
    }
    monkeypatch.setattr("storefront.api.routes.SMALL_CART", 10**9)  # always jsonify
    assert browser.client.get("/api/v1/cart").get_data() == written


# --- over real sockets, and across instances ------------------------------------------------------


def test_every_open_page_hears_a_catalog_change(app, make_product):
    sku = make_product(name="Blue Mug", price="5.78")
    with serve(app) as base:
        ws = connect(base, HttpShopper(base))  # a shopper with an empty cart: still hears it
        receive_until(ws, "hello")
        change(app, sku, price_cents=499)
        event = receive_until(ws, 'data-control="catalog"')
        assert "Blue Mug is now $4.99, was $5.78." in event
        ws.close()


@pytest.fixture
def redis_apps(database_url, tmp_path):
    """Two instances of one shop: one database, one Redis under one prefix, two instance
    folders (so nothing but Redis joins them)."""
    prefix = f"sftest-{secrets.token_hex(4)}"
    apps = [
        create_app(
            app_settings(
                database_url,
                str(tmp_path / f"instance{n}"),
                STOREFRONT_REDIS_URL=REDIS_URL,
                STOREFRONT_REDIS_PREFIX=prefix,
            )
        )
        for n in (1, 2)
    ]
    with apps[0].app_context():
        if not realtime.broker().healthy():
            pytest.skip(f"no Redis at {REDIS_URL}")
    yield apps
    for one in apps:
        with one.app_context():
            db.session.remove()
            db.engine.dispose()


def test_a_change_on_one_instance_reaches_a_page_served_by_another_through_redis(
    redis_apps, make_product
):
    staff_side, shopper_side = redis_apps
    sku = make_product(name="Green Mug", price="2.00")
    with serve(shopper_side) as base:
        shopper = HttpShopper(base)
        shopper.call("POST", "/cart/lines", {"sku": sku, "quantity": 1})
        ws = connect(base, shopper)
        receive_until(ws, "hello")
        # The subscriber starts with the first socket: publish until it is listening.
        deadline = time.monotonic() + 5
        event = None
        while event is None and time.monotonic() < deadline:
            change(staff_side, sku, active=False)
            change(staff_side, sku, active=True)
            try:
                event = receive_until(ws, "Green Mug is no longer available", timeout=0.5)
            except AssertionError:
                continue
        assert event is not None and 'data-available="false"' in event
        ws.close()
