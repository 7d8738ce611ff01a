"""The cart store: one revision per change, sealed at rest, refusing keys it does not hold."""

from __future__ import annotations

import base64
import os
import sqlite3
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from storefront import clock, create_app
from storefront.cart import models as m
from storefront.cart import store
from storefront.cart.opened import OpenedCarts
from storefront.cart.state import AddLine, Cart, Line, apply
from storefront.cart.types import Owner, Source
from storefront.config import ConfigError
from storefront.extensions import db
from tests import dbs, factories
from tests.conftest import app_settings
from tests.helpers import Browser


def revisions(app):
    with app.app_context():
        rows = db.session.execute(
            select(
                m.CartRevision.cart_id,
                m.CartRevision.version,
                m.CartRevision.source,
                m.CartRevision.device,
            ).order_by(m.CartRevision.version)
        ).all()
        db.session.remove()
        return rows


def test_every_change_bumps_the_version_by_one_and_appends_one_revision(app, browser, make_product):
    sku = make_product()
    browser.add(sku, 2)
    line_id = browser.line_id(sku)
    browser.api("PATCH", f"/cart/lines/{line_id}", json={"quantity": 3})
    browser.api("DELETE", f"/cart/lines/{line_id}")
    browser.api("DELETE", "/cart")
    rows = revisions(app)
    assert [r.version for r in rows] == [1, 2, 3, 4]
    assert {r.source for r in rows} == {Source.CHANGE}
    assert browser.cart()["version"] == 4


def test_a_revision_records_which_device_made_it(app, browser, make_product):
    from storefront.devices import label

    browser.add(make_product())
    (row,) = revisions(app)
    assert label(row.device) == "Chrome on Linux"


def test_a_refused_change_writes_nothing(app, browser, make_product):
    sku = make_product(stock=3)
    browser.add(sku, 3)
    assert browser.add(sku, 1).status_code == 409
    assert len(revisions(app)) == 1


def test_the_state_at_any_revision_can_be_rebuilt(app, browser, make_products):
    skus = make_products(7)
    carts = []
    for n in range(30):
        browser.add(skus[n % 7], 1 + n % 3)
        carts.append([(x["sku"], x["quantity"]) for x in browser.cart()["lines"]])
    with app.app_context():
        cart_id = db.session.scalar(select(m.Cart.id))
        assert db.session.scalar(select(func.count()).select_from(m.CartSnapshot)) >= 1
        for version, expected in enumerate(carts, start=1):
            rebuilt = store.state_at(cart_id, version)
            assert [(x.sku, x.quantity) for x in rebuilt.lines] == expected


SECRET_TEXT = "For Ada, with love"


def stored_bytes(app) -> list[bytes]:
    """Everything the database holds for the cart, as the disk would see it."""
    if dbs.POSTGRES_URL:
        with app.app_context():
            tables = ("carts", "cart_revisions", "cart_snapshots", "idempotency_keys")
            dumps = [
                str(row).encode() + b"".join(v for v in row if isinstance(v, bytes))
                for table in tables
                for row in db.session.execute(text(f"SELECT * FROM {table}"))
            ]
            db.session.remove()
            return dumps
    path = app.config["SQLALCHEMY_DATABASE_URI"].removeprefix("sqlite:///")
    return [Path(path + s).read_bytes() for s in ("", "-wal") if Path(path + s).exists()]


def test_the_database_and_its_wal_never_hold_cart_contents_in_clear(app, browser, make_product):
    engravable, sku = make_product(options="engraving:text(40)"), make_product()
    if not dbs.POSTGRES_URL:  # the new catalog rows move from the WAL into the database file
        with app.app_context():
            db.session.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
            db.session.remove()
    catalog_copies = sum(data.count(sku.encode()) for data in stored_bytes(app))
    browser.add(engravable, 2, {"engraving": SECRET_TEXT})
    browser.add(sku, 5)
    assert browser.cart()["lines"][0]["options"]["engraving"] == SECRET_TEXT
    stored = stored_bytes(app)
    assert stored
    for data in stored:
        assert SECRET_TEXT.encode() not in data
        assert SECRET_TEXT.encode("utf-16-le") not in data
    if not dbs.POSTGRES_URL:
        # The analytics' commerce events hold the SKU by design (SECURITY.md), never options:
        # wiped (securely) before counting the copies the cart's own tables would add.
        with app.app_context():
            assert db.session.scalar(
                text("SELECT count(*) FROM commerce_events WHERE sku = :s"), {"s": sku}
            )
            db.session.execute(text("PRAGMA secure_delete=ON"))
            db.session.execute(text("DELETE FROM commerce_events"))
            db.session.commit()
            db.session.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
            db.session.remove()
        stored = stored_bytes(app)
    # On SQLite the catalog's row and index hold the SKU (how many times depends on where the
    # row lands in their pages); the cart's tables add no copy of it. On PostgreSQL only the
    # cart tables are read: no copy at all.
    assert sum(data.count(sku.encode()) for data in stored) <= catalog_copies
    assert catalog_copies == 0 or not dbs.POSTGRES_URL


def test_sealed_cart_data_is_bound_to_its_cart(app, browser, other_browser, make_product):
    browser.add(make_product())
    other_browser.add(make_product())
    with app.app_context():
        mine, theirs = db.session.scalars(select(m.Cart).order_by(m.Cart.id)).all()
        mine.state, theirs.state = theirs.state, mine.state
        db.session.commit()
    with app.test_request_context(), pytest.raises(Exception, match="authentication"):
        store.read(Owner(user_id=None, guest_key=mine.guest_key))


def test_start_up_refuses_data_sealed_under_a_key_it_was_not_given(
    app, browser, tmp_path, make_product
):
    browser.add(make_product())
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    other_key = base64.urlsafe_b64encode(os.urandom(32)).decode()
    with pytest.raises(ConfigError, match="not hold"):
        create_app(app_settings(url, str(tmp_path), STOREFRONT_ENCRYPTION_KEYS=other_key))
    # With the old key kept beside a new first key, it starts and reads the cart.
    both = f"{other_key},{app_settings(url, '')['STOREFRONT_ENCRYPTION_KEYS']}"
    rotated = create_app(app_settings(url, str(tmp_path), STOREFRONT_ENCRYPTION_KEYS=both))
    client = rotated.test_client()
    client.set_cookie("storefront", browser.client.get_cookie("storefront").value)
    assert client.get("/api/v1/cart").json["item_count"] == 1
    with rotated.app_context():
        db.engine.dispose()


def test_a_guest_cart_expires_after_its_last_change(app, browser, make_product):
    browser.add(make_product())
    clock.advance(timedelta(days=6, hours=23))
    assert browser.cart()["item_count"] == 1
    browser.add(make_product())  # a change renews it
    clock.advance(timedelta(days=6, hours=23))
    assert browser.cart()["item_count"] == 2
    clock.advance(timedelta(hours=2))
    assert browser.cart()["item_count"] == 0
    assert browser.add(make_product()).json["item_count"] == 1  # a fresh cart starts


def test_the_guest_cookie_is_httponly_lax_and_lives_guest_cart_days(app, browser, make_product):
    browser.add(make_product())
    cookie = browser.client.get_cookie("storefront")
    assert cookie.http_only and cookie.same_site == "Lax" and not cookie.secure
    lives = cookie.expires - datetime.now(UTC)
    assert abs(lives - app.config["GUEST_CART_LIFETIME"]) < timedelta(seconds=5)


def _seconds_later(monkeypatch, seconds: float) -> None:
    """Wall-clock time moved on (what cookies' signatures are timed by, not the shop's clock)."""
    later = time.time() + seconds
    monkeypatch.setattr(time, "time", lambda: later)


def test_a_change_renews_the_cookie_once_it_is_a_minute_old(
    app, browser, make_product, monkeypatch
):
    sku = make_product()
    browser.add(sku)
    signed = browser.client.get_cookie("storefront").value
    # Signed a moment ago: a change keeps it as it is (signing it again each change cost CPU).
    assert "Set-Cookie" not in browser.add(sku).headers
    _seconds_later(monkeypatch, 61)
    assert "Set-Cookie" in browser.add(sku).headers
    renewed = browser.client.get_cookie("storefront")
    assert renewed.value != signed
    lives = renewed.expires - datetime.now(UTC)  # Flask dates the expiry by datetime.now
    assert abs(lives - app.config["GUEST_CART_LIFETIME"]) < timedelta(seconds=5)
    assert browser.cart()["item_count"] == 3  # the same cart, behind the renewed cookie


def test_what_a_request_sets_in_the_session_is_signed_at_once_and_stays_its_own(
    app, browser, make_product
):
    from flask import request

    browser.add(make_product())
    cookie = browser.client.get_cookie("storefront").value
    sessions = app.session_interface
    with app.test_request_context(headers={"Cookie": f"storefront={cookie}"}):
        opened = sessions.open_session(app, request)
        opened.renew()  # a cart change: within the minute the cookie stays as it is
        assert not sessions.should_set_cookie(app, opened)
        opened["note"] = "set by this request"
        assert sessions.should_set_cookie(app, opened)  # new content: signed now
        again = sessions.open_session(app, request)  # the next request with the same cookie
        assert "note" not in again and dict(again) == {
            k: v for k, v in opened.items() if k != "note"
        }
        again["guest"] = again["guest"]  # set to what it holds: nothing to sign yet
        assert not sessions.should_set_cookie(app, again)


def test_no_session_protection_means_nothing_hashed_for_it(app, browser, monkeypatch):
    from storefront.extensions import login_manager

    def refused():
        raise AssertionError("hashed the address and browser for a protection that is off")

    monkeypatch.setattr(login_manager, "_session_identifier_generator", refused)
    assert browser.cart()["item_count"] == 0


def test_a_remembered_cookie_still_expires_with_its_age(app, browser, make_product, monkeypatch):
    browser.add(make_product())
    assert browser.cart()["item_count"] == 1  # this cookie is now remembered as verified
    days = app.config["GUEST_CART_LIFETIME"].days
    _seconds_later(monkeypatch, timedelta(days=days, minutes=1).total_seconds())
    # Past its age the cookie opens nothing, however recently it was verified: a new guest.
    assert browser.cart()["item_count"] == 0


def test_the_cookie_is_secure_when_served_over_https(app):
    client = app.test_client()
    response = client.get("/", base_url="https://shop.example")
    assert "Secure" in response.headers["Set-Cookie"]


# --- carts kept decoded in the process (storefront.cart.opened) ------------------------------


def test_a_cart_changed_by_another_instance_is_never_served_stale(
    app, browser, tmp_path, make_products
):
    first, second, third = make_products(3)
    browser.add(first)
    assert browser.cart()["item_count"] == 1  # this instance now holds the cart decoded
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    other = create_app(app_settings(url, str(tmp_path / "other")))
    elsewhere = Browser(other.test_client())
    elsewhere.client.set_cookie("storefront", browser.client.get_cookie("storefront").value)
    elsewhere.add(second, 2)
    assert browser.cart()["item_count"] == 3
    assert browser.add(third, Prefer="return=minimal").json["item_count"] == 4
    assert [line["sku"] for line in browser.cart()["lines"]] == [first, second, third]
    assert [line["sku"] for line in elsewhere.cart()["lines"]] == [first, second, third]
    with other.app_context():
        db.engine.dispose()


def test_two_workers_recording_the_new_key_at_once_both_write(app, tmp_path):
    """A fresh shop's workers each record the encryption key at their first write; when two do
    it at once, neither change may fail (it once answered 500: duplicate key)."""
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    second = create_app(app_settings(url, str(tmp_path / "second")))
    first_holds_its_insert, first_may_commit = threading.Event(), threading.Event()
    outcome = {}

    def add_one(worker, name: str, hold: bool):
        def hold_open(_change):
            if hold:  # the key's row is inserted, not yet committed
                first_holds_its_insert.set()
                first_may_commit.wait(10)

        with worker.test_request_context():
            try:
                op = AddLine(name, "DEMO-0030", 1)
                change = store.write(
                    Owner.guest(name * 8), lambda cart: (op, apply(cart, op)), also=hold_open
                )
                outcome[name] = change.version
            except Exception as exc:  # what the worker would have answered 500 for
                outcome[name] = repr(exc)
            finally:
                db.session.remove()

    first = threading.Thread(target=add_one, args=(app, "aaaa", True))
    first.start()
    assert first_holds_its_insert.wait(10)
    other = threading.Thread(target=add_one, args=(second, "bbbb", False))
    other.start()
    other.join(0.5)  # PostgreSQL: it now waits on the first's row; SQLite: on its write lock
    first_may_commit.set()
    first.join(10)
    other.join(10)
    assert outcome == {"aaaa": 1, "bbbb": 1}
    with second.app_context():
        assert db.session.scalar(select(func.count()).select_from(m.EncryptionKeyInUse)) == 1
        db.engine.dispose()


def test_opened_carts_are_found_only_by_the_exact_sealed_bytes_they_came_from():
    cart = Cart.of([Line("a", "DEMO-0030", 1)])
    carts = OpenedCarts()
    carts.put(7, 3, b"sealed-v3", cart)
    assert carts.get(7, 3, b"sealed-v3") is cart
    assert carts.get(7, 3, b"sealed-v3 written again") is None
    assert carts.get(7, 4, b"sealed-v3") is None
    assert carts.get(8, 3, b"sealed-v3") is None  # the same bytes copied to another cart


def test_opened_carts_hold_a_bounded_number_of_lines_dropping_the_least_recent():
    def cart_of(n: int) -> Cart:
        return Cart.of([Line(f"l{i}", f"DEMO-{i + 1:04d}", 1) for i in range(n)])

    carts = OpenedCarts(max_lines=10)
    carts.put(1, 1, b"one", cart_of(4))
    carts.put(2, 1, b"two", cart_of(4))
    assert carts.get(1, 1, b"one") is not None  # now the most recent
    carts.put(3, 1, b"three", cart_of(4))
    assert carts.get(2, 1, b"two") is None
    assert carts.get(1, 1, b"one") is not None and carts.get(3, 1, b"three") is not None
    carts.put(4, 1, b"huge", cart_of(11))  # larger than the whole bound: not kept
    assert carts.get(4, 1, b"huge") is None and len(carts) == 2


def test_opened_carts_keep_only_the_newest_state_of_each_cart():
    carts = OpenedCarts(max_lines=10)
    carts.put(1, 1, b"v1", Cart.of([Line("a", "DEMO-0030", 1)]))
    newer = Cart.of([Line("a", "DEMO-0030", 2)])
    carts.put(1, 2, b"v2", newer)
    assert carts.get(1, 1, b"v1") is None and carts.get(1, 2, b"v2") is newer
    assert len(carts) == 1


def test_opened_carts_never_trade_a_newer_state_for_an_older_one():
    carts = OpenedCarts()
    newer = Cart.of([Line("a", "DEMO-0030", 2)])
    carts.put(1, 2, b"v2", newer)  # a writer caches version 2...
    carts.put(1, 1, b"v1", Cart.of([Line("a", "DEMO-0030", 1)]))  # ...a slow reader opened 1
    assert carts.get(1, 2, b"v2") is newer


def test_a_deleted_cart_leaves_the_opened_carts(app, browser, make_product):
    from storefront.cart.sealing import opened_carts

    browser.register("gone@example.com")
    browser.add(make_product())
    with app.app_context():
        carts = opened_carts()
        assert len(carts) == 1
    browser.ensure_csrf()
    response = browser.form("/account/delete", {"password": "correct horse battery"})
    assert response.status_code in (200, 302, 303)
    with app.app_context():
        assert len(opened_carts()) == 0


def test_sqlite_writers_of_two_processes_take_turns(tmp_path):
    """The write queue's file lock is shared across processes: while another process holds
    it, a writer here waits (it does not start a transaction), and goes once it is released."""
    import subprocess
    import sys

    from storefront import writers

    database = str(tmp_path / "shop.db")
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from storefront import writers; q = writers.queue_for(sys.argv[1]);"
            " q.acquire(); print('held', flush=True); sys.stdin.read(); q.release()",
            database,
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parent.parent,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        got_it = threading.Event()

        def write_here():
            queue = writers.queue_for(database)
            queue.acquire()
            got_it.set()
            queue.release()

        writer = threading.Thread(target=write_here)
        writer.start()
        assert not got_it.wait(0.5)  # the other process holds the lock
        holder.stdin.close()  # it lets go
        assert got_it.wait(10)
        writer.join(10)
    finally:
        holder.kill()
        holder.wait()


def end_backend(engine, pid: int) -> None:
    """Terminate a server process, and wait until it is gone (the call only signals it)."""
    with engine.connect() as conn:
        conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        for _ in range(500):
            gone = not conn.execute(
                text("SELECT count(*) FROM pg_stat_activity WHERE pid = :pid"), {"pid": pid}
            ).scalar()
            if gone:
                return
            threading.Event().wait(0.01)
    raise AssertionError(f"backend {pid} still there")


@pytest.mark.skipif(
    not dbs.POSTGRES_URL, reason="a database server's connections (the PostgreSQL run)"
)
def test_a_connection_the_server_dropped_while_idle_is_replaced_before_use(
    database_url, monkeypatch
):
    from sqlalchemy import create_engine
    from sqlalchemy.exc import OperationalError

    from storefront import database

    engine = create_engine(database_url)
    database.configure(engine)
    killer = create_engine(database_url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            first = conn.execute(text("SELECT pg_backend_pid()")).scalar()
        end_backend(killer, first)  # the server ends it while it sits in the pool
        # Used again at once: not pinged, so that request fails (and the connection goes).
        with engine.connect() as conn, pytest.raises(OperationalError):
            conn.execute(text("SELECT 1"))
        monkeypatch.setattr(database, "IDLE_PING_SECONDS", 0.0)  # as if idle long enough
        with engine.connect() as conn:
            first = conn.execute(text("SELECT pg_backend_pid()")).scalar()
        end_backend(killer, first)
        with engine.connect() as conn:
            assert conn.execute(text("SELECT pg_backend_pid()")).scalar() != first
    finally:
        engine.dispose()
        killer.dispose()


@pytest.mark.skipif(
    not dbs.POSTGRES_URL, reason="a database server's connections (the PostgreSQL run)"
)
def test_a_change_whose_connection_the_server_dropped_is_refused_with_503_and_changes_nothing(
    app, database_url, make_product
):
    from sqlalchemy import create_engine

    sku = make_product(stock=10)
    browser = Browser(app.test_client())
    assert browser.add(sku).status_code == 200
    killer = create_engine(database_url, isolation_level="AUTOCOMMIT")
    try:
        with killer.connect() as conn:  # every connection the app's pool holds
            pids = conn.execute(
                text(
                    "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                    "AND pid <> pg_backend_pid()"
                )
            ).scalars()
            pids = list(pids)
        for pid in pids:
            end_backend(killer, pid)
    finally:
        killer.dispose()
    refused = browser.add(sku)  # its connection was used a moment ago: not pinged
    assert refused.status_code == 503, refused.get_data(as_text=True)
    assert refused.json["error"]["code"] == "service_unavailable"
    assert refused.headers["Retry-After"] == "1"
    assert browser.add(sku).status_code == 200  # the pool has replaced its connections
    assert browser.cart()["item_count"] == 2


def test_an_add_to_a_small_cart_reads_the_catalog_once(app, browser, make_products):
    # The added product and the facts of the cart's other lines (its totals at today's prices)
    # come in one statement: each statement is a round trip on PostgreSQL.
    skus = make_products(4)
    for sku in skus[:3]:
        browser.add(sku)
    added = None

    def add_the_fourth():
        nonlocal added
        added = browser.add(skus[3])

    catalog_reads = dbs.selects_reading(app, "products", add_the_fourth)
    assert added.status_code == 200
    assert added.json["item_count"] == 4
    assert len(catalog_reads) == 1, catalog_reads


def _statements_sent() -> float:
    from storefront import metrics

    return metrics.REGISTRY.get_sample_value("storefront_db_statements_total")


def test_an_add_is_two_statements_on_postgresql(app, browser, make_product):
    """Find the cart (unlocked on PostgreSQL) with the products the add reads, then write: the
    cart row, its revision and its events go together (storefront/prepared.py ``together``).
    SQLite reads the products on their own and runs the writes one by one: no round trips to
    save there."""
    first, second = make_product(), make_product()
    browser.add(first)
    before = _statements_sent()
    assert browser.add(second).status_code == 200
    postgres = app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql")
    assert _statements_sent() - before == (2 if postgres else 5)
    assert [line["quantity"] for line in browser.cart()["lines"]] == [1, 1]


@pytest.mark.skipif(not dbs.POSTGRES_URL, reason="products are read with the cart on PostgreSQL")
def test_changing_or_removing_a_line_is_two_statements_on_postgresql(app, browser, make_product):
    """The facts a quantity change checks and those its description shows come with the cart
    row: find, write."""
    kept, changed = make_product(name="Kept mug"), make_product(name="Changed mug", stock=3)
    browser.add(kept)
    browser.add(changed)
    path = f"/cart/lines/{browser.line_id(changed)}"
    before = _statements_sent()
    answer = browser.api("PATCH", path, json={"quantity": 3})
    assert answer.status_code == 200, answer.json
    assert _statements_sent() - before == 2
    assert {line["name"]: line["quantity"] for line in answer.json["lines"]} == {
        "Kept mug": 1,
        "Changed mug": 3,
    }
    refused = browser.api("PATCH", path, json={"quantity": 4})  # the stock read along
    assert refused.status_code == 409 and refused.json["error"]["code"] == "out_of_stock"
    before = _statements_sent()
    answer = browser.api("DELETE", path)
    assert answer.status_code == 200, answer.json
    assert _statements_sent() - before == 2
    assert [line["name"] for line in answer.json["lines"]] == ["Kept mug"]


@pytest.mark.skipif(not dbs.POSTGRES_URL, reason="products are read with the cart on PostgreSQL")
def test_an_add_whose_guess_of_the_cart_missed_still_reads_every_product(
    app, browser, make_product, monkeypatch
):
    """The products read with the cart row are those of the cart as this process last saw it.
    Changed meanwhile elsewhere (another worker, another instance), the lines it did not know
    are looked up on their own: one statement more, the same answer."""
    first = make_product(name="First mug", price="4.00")
    second = make_product(name="Second mug", price="6.50")
    third = make_product(name="Third mug", price="1.25")
    browser.add(first)
    browser.add(second)
    monkeypatch.setattr(store, "_carts_of", store._CartsOf())  # as if changed in another worker
    before = _statements_sent()
    added = browser.add(third)
    assert added.status_code == 200, added.json
    assert _statements_sent() - before == 3
    lines = {line["sku"]: line for line in added.json["lines"]}
    assert {sku: (line["name"], line["unit_price"]) for sku, line in lines.items()} == {
        first: ("First mug", "4.00"),
        second: ("Second mug", "6.50"),
        third: ("Third mug", "1.25"),
    }
    assert added.json["subtotal"] == "11.75"
    before = _statements_sent()
    assert browser.add(first).status_code == 200  # known again: two statements
    assert _statements_sent() - before == 2


@pytest.mark.skipif(not dbs.POSTGRES_URL, reason="products are read with the cart on PostgreSQL")
def test_products_read_with_the_cart_are_as_they_are_now(app, browser, make_product):
    """The stock, price and state an add decides on come from the same statement as the cart
    row, never from what this process read before."""
    from sqlalchemy import update

    from storefront.catalog.models import Product

    kept, dropped = make_product(price="3.00", stock=5), make_product(price="2.00")
    browser.add(kept)
    browser.add(dropped)
    with app.app_context():
        db.session.execute(update(Product).where(Product.sku == kept).values(stock=1))
        db.session.execute(
            update(Product).where(Product.sku == dropped).values(price_cents=275, active=False)
        )
        db.session.commit()
    before = browser.cart()
    refused = browser.add(kept)
    assert refused.status_code == 409 and refused.json["error"]["code"] == "out_of_stock"
    assert browser.add(dropped).status_code == 409  # no longer sold
    after = browser.cart()
    assert after["version"] == before["version"]
    assert {line["sku"]: line["unit_price"] for line in after["lines"]} == {
        kept: "3.00",
        dropped: "2.75",
    }
    with app.app_context():
        db.session.execute(update(Product).where(Product.sku == kept).values(stock=9))
        db.session.commit()
    assert browser.add(kept, 2).status_code == 200
    assert {line["sku"]: line["quantity"] for line in browser.cart()["lines"]} == {
        kept: 3,
        dropped: 1,
    }


def _add(sku: str, line_id: str):
    op = AddLine(line_id, sku, 1)
    return lambda cart: (op, apply(cart, op))


def _in_another_request(app, work) -> None:
    """``work()`` on its own thread, session and connection, to its end: another request."""

    def run():
        with app.test_request_context():
            try:
                work()
            finally:
                db.session.remove()

    other = threading.Thread(target=run)
    other.start()
    other.join(10)
    assert not other.is_alive()


def _add_racing(app, meanwhile, sku: str = "DEMO-0032"):
    """An add of ``sku`` whose first decision lets ``meanwhile`` run and commit in another
    request (between this change's read and its write); and the SKUs of each cart it was
    decided on."""
    decided_on: list[list[str]] = []

    def decide(cart):
        decided_on.append(sorted(line.sku for line in cart.lines))
        if len(decided_on) == 1:
            _in_another_request(app, meanwhile)
        return _add(sku, "m")(cart)

    return decide, decided_on


@pytest.mark.skipif(
    not dbs.POSTGRES_URL, reason="the unlocked write is PostgreSQL's (SQLite locks the file)"
)
def test_an_add_on_postgresql_takes_no_transaction_and_no_row_lock(
    app, browser, make_product, monkeypatch
):
    """Find the cart with its products, write the change: each statement commits itself (no
    BEGIN, no COMMIT round trips) and none locks the cart row for another change to wait on."""
    from psycopg.pq import TransactionStatus
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    from storefront import prepared

    first, second = make_product(), make_product()
    browser.add(first)  # the cart's first add creates its row
    seen = []

    def before(conn, _cursor, statement, *_):
        seen.append((conn.connection.driver_connection.info.transaction_status, statement))

    event.listen(Engine, "before_cursor_execute", before)
    monkeypatch.setattr(prepared, "_own", prepared._own + 1)  # as one of the shop's own
    try:
        assert browser.add(second).status_code == 200
    finally:
        event.remove(Engine, "before_cursor_execute", before)
    assert len(seen) == 2, seen
    assert "products" in seen[0][1]  # read with the cart row
    assert {status for status, _ in seen} == {TransactionStatus.IDLE}, seen
    assert not any("FOR UPDATE" in statement for _, statement in seen)
    assert browser.cart()["version"] == 2


def _kept(app):
    from storefront import database

    with app.app_context():
        return [connection for connection, _ in database._autocommit_kept(db.engine)]


@pytest.mark.skipif(
    not dbs.POSTGRES_URL, reason="the unlocked write is PostgreSQL's (SQLite locks the file)"
)
def test_unlocked_changes_run_on_one_autocommit_connection_kept_between_them(
    app, browser, make_product, monkeypatch
):
    from storefront import database

    first, second, third = make_product(), make_product(), make_product()
    browser.add(first)  # the cart's first add creates its row (the locked way)
    assert browser.add(second).status_code == 200
    [kept] = _kept(app)
    assert kept.connection.driver_connection.autocommit  # kept switched: no switch back
    with app.app_context():
        assert db.engine.pool.checkedout() == 1  # only the kept one is out of the pool
    assert browser.add(third).status_code == 200
    assert _kept(app) == [kept]  # the next change ran on it

    # Kept unused for too long: closed, and the change runs on a fresh (pinged) one.
    monkeypatch.setattr(database, "IDLE_PING_SECONDS", 0.0)
    assert browser.add(first).status_code == 200
    assert kept.closed
    [fresh] = _kept(app)
    assert fresh is not kept and fresh.connection.driver_connection.autocommit
    assert browser.cart()["item_count"] == 4

    with app.app_context():
        db.engine.dispose()  # a new pool: what was kept of the old one is closed
    assert fresh.closed and _kept(app) == []


@pytest.mark.skipif(not dbs.POSTGRES_URL, reason="autocommit connections are PostgreSQL's")
def test_at_most_a_few_autocommit_connections_are_kept_and_a_block_left_open_is_ended(app):
    from storefront import database

    many = database.AUTOCOMMIT_KEPT + 2
    all_inside = threading.Barrier(many)

    def unlocked_write() -> None:
        with app.app_context(), database.autocommit_connection() as connection:
            connection.execute(text("SELECT 1"))
            all_inside.wait(5)

    threads = [threading.Thread(target=unlocked_write) for _ in range(many)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert len(_kept(app)) == database.AUTOCOMMIT_KEPT
    with app.app_context():
        assert db.engine.pool.checkedout() == database.AUTOCOMMIT_KEPT  # the rest went back

        with database.autocommit_connection() as connection:
            connection.execute(text("SELECT 1"))  # SQLAlchemy's transaction, never ended
        assert connection in _kept(app)
        assert all(not kept.in_transaction() for kept in _kept(app))


@pytest.mark.skipif(
    not dbs.POSTGRES_URL, reason="the unlocked write is PostgreSQL's (SQLite locks the file)"
)
def test_a_change_that_another_overtook_is_decided_again_and_both_are_kept(app):
    from storefront import metrics

    owner = Owner.guest("r" * 32)
    retries = metrics.REGISTRY.get_sample_value("storefront_cart_write_retries_total")
    add_after_another, decided_on = _add_racing(
        app, lambda: store.write(owner, _add("DEMO-0031", "o"))
    )

    with app.test_request_context():
        store.write(owner, _add("DEMO-0030", "f"))
        change = store.write(owner, add_after_another)
        db.session.remove()
        snapshot = store.read(owner)
    assert decided_on == [["DEMO-0030"], ["DEMO-0030", "DEMO-0031"]]
    assert change.version == snapshot.version == 3
    assert sorted(line.sku for line in snapshot.cart.lines) == [
        "DEMO-0030",
        "DEMO-0031",
        "DEMO-0032",
    ]
    assert [r.version for r in revisions(app)] == [1, 2, 3]
    assert metrics.REGISTRY.get_sample_value("storefront_cart_write_retries_total") == retries + 1


@pytest.mark.skipif(
    not dbs.POSTGRES_URL, reason="the unlocked write is PostgreSQL's (SQLite locks the file)"
)
def test_a_change_to_a_cart_merged_meanwhile_is_not_written_into_it(app):
    from storefront.errors import NotFound

    owner = Owner.guest("g" * 32)

    def merge_it():
        db.session.execute(
            m.Cart.__table__.update()
            .where(m.Cart.guest_key == owner.guest_key)
            .values(status=store.CartStatus.MERGED)
        )
        db.session.commit()

    add_after_merge, decided_on = _add_racing(app, merge_it)

    with app.test_request_context():
        first = store.write(owner, _add("DEMO-0030", "f"))
        # Under the lock it finds no open cart, as it would have had the merge come first (the
        # merged cart keeps the guest's key, so no second cart is opened for it).
        with pytest.raises(NotFound):
            store.write(owner, add_after_merge)
        db.session.remove()
    assert decided_on == [["DEMO-0030"]]
    with app.app_context():
        merged = db.session.get(m.Cart, first.cart_id)
        assert (merged.status, merged.version) == (store.CartStatus.MERGED, 1)
        db.session.remove()
    assert [r.version for r in revisions(app)] == [1]


@pytest.mark.skipif(
    not dbs.POSTGRES_URL, reason="the unlocked write is PostgreSQL's (SQLite locks the file)"
)
def test_a_guests_change_racing_the_registration_that_adopts_the_cart_stays_the_guests(app):
    """Registration hands the guest's cart to the new account without a new version: the
    guest's change decided before it must not land in the account's cart unseen."""
    from storefront.accounts import services as accounts

    guest = Owner.guest("a" * 32)

    def register():
        accounts.register("racer@example.com", "correct horse battery", guest)

    add_after_registration, decided_on = _add_racing(app, register)

    with app.test_request_context():
        first = store.write(guest, _add("DEMO-0030", "f"))
        change = store.write(guest, add_after_registration)
        db.session.remove()
    assert decided_on == [["DEMO-0030"], []]  # decided again, on a new guest cart
    assert change.cart_id != first.cart_id
    with app.app_context():
        adopted = db.session.get(m.Cart, first.cart_id)
        assert adopted.user_id is not None and adopted.version == 1
        db.session.remove()


@pytest.mark.skipif(
    not dbs.POSTGRES_URL, reason="the unlocked write is PostgreSQL's (SQLite locks the file)"
)
def test_a_read_failing_after_an_unlocked_change_neither_fails_nor_repeats_it(
    app, browser, make_product, monkeypatch
):
    """The change has committed when the reads for its answer run: a failure there must not
    make it be decided again (a second line) nor refuse it (a retry would add it twice)."""
    from storefront.cart import views

    first, second = make_product(), make_product()
    browser.add(first)

    def failing(change, known=None):
        raise RuntimeError("the catalog went away")

    monkeypatch.setattr(views, "read_facts_inside", failing)
    added = browser.add(second)
    assert added.status_code == 200, added.get_data(as_text=True)
    assert added.json["item_count"] == 2
    cart = browser.cart()
    assert [line["quantity"] for line in cart["lines"]] == [1, 1]
    assert cart["version"] == 2


@pytest.mark.skipif(not dbs.POSTGRES_URL, reason="autocommit connections are PostgreSQL's")
def test_a_small_pool_keeps_no_autocommit_connection_out_of_reach(database_url, tmp_path):
    from storefront import database

    app = create_app(
        app_settings(database_url, str(tmp_path / "small"), STOREFRONT_DATABASE_POOL_SIZE=2)
    )
    with app.app_context():
        sku = factories.make_product()
    shopper = Browser(app.test_client())
    for _ in range(3):  # each after the first an unlocked change; then a read needs the pool
        assert shopper.add(sku).status_code == 200
    assert shopper.cart()["item_count"] == 3
    assert _kept(app) == []
    with app.app_context():
        assert db.engine.pool.checkedout() == 0
        assert database._most_kept(db.engine) == 0


def _cart_rows(app) -> int:
    with app.app_context():
        try:
            return db.session.scalar(select(func.count()).select_from(m.Cart))
        finally:
            db.session.remove()


@pytest.mark.skipif(not dbs.POSTGRES_URL, reason="the unlocked write is PostgreSQL's")
def test_a_first_add_on_postgresql_writes_the_new_cart_in_three_statements(
    app, browser, make_product
):
    """The new cart's id with the products, then its row written with its first revision in
    one statement: a shopper's first add was about ten statements under a row lock."""
    sku, sold_out = make_product(name="First mug"), make_product(stock=0)
    Browser(app.test_client()).add(sku)  # the process has recorded its key in use (once)
    carts, written = _cart_rows(app), len(revisions(app))
    refused = browser.add(sold_out)
    assert refused.status_code == 409 and refused.json["error"]["code"] == "out_of_stock"
    assert _cart_rows(app) == carts  # a refused first add opens no cart
    before = _statements_sent()
    added = browser.add(sku, 2)
    assert added.status_code == 200, added.json
    assert _statements_sent() - before == 3
    assert _cart_rows(app) == carts + 1
    assert [(line["name"], line["quantity"]) for line in added.json["lines"]] == [("First mug", 2)]
    assert added.json["version"] == 1
    before = _statements_sent()
    assert browser.add(sku).status_code == 200
    assert _statements_sent() - before == 2
    assert [r.version for r in revisions(app)][written:] == [1, 2]


@pytest.mark.skipif(not dbs.POSTGRES_URL, reason="the unlocked write is PostgreSQL's")
def test_two_first_adds_of_one_guest_at_once_make_one_cart_holding_both(app):
    """The second to write the new row finds it written (the guest's key is unique): it is
    decided again under the lock, on the cart the first made."""
    from storefront import metrics

    owner = Owner.guest("n" * 32)
    retries = metrics.REGISTRY.get_sample_value("storefront_cart_write_retries_total")
    add_after_another, decided_on = _add_racing(
        app, lambda: store.write(owner, _add("DEMO-0031", "o"))
    )
    with app.test_request_context():
        change = store.write(owner, add_after_another)
        db.session.remove()
        snapshot = store.read(owner)
    assert decided_on == [[], ["DEMO-0031"]]
    assert change.version == snapshot.version == 2
    assert sorted(line.sku for line in snapshot.cart.lines) == ["DEMO-0031", "DEMO-0032"]
    assert [r.version for r in revisions(app) if r.cart_id == change.cart_id] == [1, 2]
    assert _cart_rows(app) == 1
    assert metrics.REGISTRY.get_sample_value("storefront_cart_write_retries_total") == retries + 1


@pytest.mark.skipif(bool(dbs.POSTGRES_URL), reason="the writers' queue is SQLite's")
def test_a_change_on_sqlite_runs_on_the_writers_connection_and_leaves_the_session_alone(app):
    """Written in the writers' transaction on their connection (BEGIN IMMEDIATE, COMMIT), not
    through the session: the session begins nothing, and the connection is set aside for the
    next change when no writer waits. A refused change writes nothing and lets the lock go."""
    owner = Owner.guest("s" * 32)

    def refuse(cart):
        raise RuntimeError("refused")

    from sqlalchemy import event
    from sqlalchemy.orm import Session

    begun = []

    def session_began(session, transaction, connection):
        begun.append(connection)

    with app.test_request_context():
        event.listen(Session, "after_begin", session_began)
        try:
            assert store.write(owner, _add("DEMO-0030", "f")).version == 1
        finally:
            event.remove(Session, "after_begin", session_began)
        assert begun == []
        assert not db.session().in_transaction()
        assert db.engine.pool.checkedout() == 1  # the writers' connection, set aside
        with pytest.raises(RuntimeError):
            store.write(owner, refuse)
        assert store.write(owner, _add("DEMO-0031", "g")).version == 2  # the lock is free
        snapshot = store.read(owner)
        db.session.remove()
    assert sorted(line.sku for line in snapshot.cart.lines) == ["DEMO-0030", "DEMO-0031"]
    assert [r.version for r in revisions(app)] == [1, 2]


@pytest.mark.skipif(bool(dbs.POSTGRES_URL), reason="the writers' queue is SQLite's")
def test_changes_one_after_another_write_on_the_connection_set_aside(app):
    """The next change takes the connection the last one set aside instead of a checkout from
    the pool and a checkin after it; disposing of the engine (its pool replaced) closes it."""
    from sqlalchemy import event

    from storefront import database

    owner = Owner.guest("k" * 32)
    checkouts = []

    with app.test_request_context():
        engine = db.engine
        event.listen(engine, "checkout", lambda *args: checkouts.append(1))
        store.write(owner, _add("DEMO-0030", "a"))
        [(aside, _)] = database._kept(engine, database._WRITERS_KEPT)
        driver = aside.connection.driver_connection
        for n, sku in enumerate(("DEMO-0031", "DEMO-0032", "DEMO-0033"), start=2):
            assert store.write(owner, _add(sku, sku[-1])).version == n
        [(again, _)] = database._kept(engine, database._WRITERS_KEPT)
        assert again is aside and again.connection.driver_connection is driver
        assert len(checkouts) == 1
        assert not again.in_transaction()
        # Another process (a second worker) writes meanwhile: the file is not locked by it.
        outside = sqlite3.connect(engine.url.database, timeout=1)
        outside.execute("BEGIN IMMEDIATE")
        outside.rollback()
        outside.close()
        engine.dispose()
        assert again.closed
        assert database._kept(engine, database._WRITERS_KEPT) == []
        assert store.write(owner, _add("DEMO-0034", "e")).version == 5
        db.session.remove()


@pytest.mark.skipif(bool(dbs.POSTGRES_URL), reason="the writers' queue is SQLite's")
def test_a_pool_too_small_to_spare_one_gets_the_writers_connection_back(database_url, tmp_path):
    """With a pool of two, keeping one out would leave one for everything else the worker
    serves: the writers' connection goes back to the pool after each change."""
    from storefront import database

    app = create_app(
        app_settings(database_url, str(tmp_path / "small"), STOREFRONT_DATABASE_POOL_SIZE=2)
    )
    owner = Owner.guest("p" * 32)
    with app.test_request_context():
        for n, sku in enumerate(("DEMO-0030", "DEMO-0031"), start=1):
            assert store.write(owner, _add(sku, sku[-1])).version == n
            assert database._kept(db.engine, database._WRITERS_KEPT) == []
            assert db.engine.pool.checkedout() == 0
        db.session.remove()
        db.engine.dispose()
