"""Live push: the registry, both brokers, and /ws against a live server."""

from __future__ import annotations

import importlib
import os
import re
import secrets
import socket
import threading
import time

import pytest
import redis
import simple_websocket

from storefront.realtime.broker import RedisBroker
from storefront.realtime.presence import CountersFile
from storefront.realtime.registry import RESYNC, Close, Registry, Subscription
from storefront.realtime.siblings import SiblingsBroker
from tests.live import HttpShopper, PageSocket, handshake_status, open_page_socket, serve

REDIS_URL = os.environ.get("STOREFRONT_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def drain(subscription: Subscription, timeout: float = 2.0):
    return subscription.inbox.get(timeout=timeout)


def test_the_registry_delivers_only_to_the_channel_and_closes_only_the_named_session():
    registry = Registry()
    mine, mine_other_device = Subscription("user:1", "s1"), Subscription("user:1", "s2")
    theirs = Subscription("user:2", "s3")
    for s in (mine, mine_other_device, theirs):
        registry.add(s)
    assert registry.deliver("user:1", {"html": "<p>x</p>"}) == 2
    assert drain(mine) == drain(mine_other_device) == "<p>x</p>"
    assert theirs.inbox.empty()
    registry.deliver("user:1", {"close": "signed out", "session": "s1", "code": 1012})
    assert drain(mine) == Close(1012, "signed out")
    assert mine_other_device.inbox.empty()
    registry.remove(mine)
    assert len(registry) == 2


def test_shutdown_closes_open_sockets_and_any_opened_after_it():
    registry = Registry()
    before = Subscription("user:1", "s1")
    registry.add(before)
    registry.close_all(Close(1012, "server restarting"))
    assert drain(before) == Close(1012, "server restarting")
    # The worker still accepts for a moment: a page reconnecting then is closed at once too,
    # instead of keeping the worker until its graceful timeout.
    late = Subscription("user:2", "s2")
    registry.add(late)
    assert drain(late) == Close(1012, "server restarting")


def test_a_lone_worker_hands_events_straight_to_its_registry(tmp_path):
    registry = Registry()
    subscription = Subscription("guest:ab")
    registry.add(subscription)
    SiblingsBroker(registry, tmp_path / "live").publish("guest:ab", {"html": "hi"})
    assert drain(subscription) == "hi"


def test_the_redis_broker_fans_out_across_processes_under_its_prefix():
    prefix = f"sftest-{secrets.token_hex(4)}"
    receiving, sending = Registry(), Registry()
    subscription = Subscription("user:7")
    receiving.add(subscription)
    listener = RedisBroker(receiving, REDIS_URL, prefix)
    listener.start()
    publisher = RedisBroker(sending, REDIS_URL, prefix)
    other_shop = RedisBroker(sending, REDIS_URL, prefix + "-other")
    deadline = time.monotonic() + 5
    while subscription.inbox.empty() and time.monotonic() < deadline:
        publisher.publish("user:7", {"html": "from elsewhere"})  # until the subscriber is up
        time.sleep(0.05)
    assert drain(subscription) == "from elsewhere"
    while not subscription.inbox.empty():
        drain(subscription)
    other_shop.publish("user:7", {"html": "not for us"})
    publisher.publish("user:7", {"html": "second"})
    assert drain(subscription) == "second"


def test_sibling_workers_reach_each_other_through_the_instance_folder(tmp_path):
    """Without Redis, a machine's workers: a publish reaches this process's pages at once and
    every other worker's through its datagram socket; a worker that is gone is forgotten."""
    folder = tmp_path / "live"
    here, there = Registry(), Registry()
    mine, theirs, nobody = Subscription("user:7"), Subscription("user:7"), Subscription("user:8")
    here.add(mine)
    there.add(theirs)
    there.add(nobody)
    publisher, sibling = SiblingsBroker(here, folder), SiblingsBroker(there, folder)
    publisher.start()
    sibling.start()
    assert oct(folder.stat().st_mode & 0o777) == "0o700"
    dead = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    dead.bind(str(folder / "999999-dead.sock"))
    dead.close()  # a worker that died without cleaning up

    publisher.publish("user:7", {"html": "<p>added</p>"})
    assert drain(mine) == "<p>added</p>"  # no round trip for this worker's own pages
    assert drain(theirs) == "<p>added</p>"
    assert nobody.inbox.empty() and mine.inbox.empty()
    assert not (folder / "999999-dead.sock").exists()

    publisher.publish("user:7", {"html": "x" * 300_000})  # too big for one datagram
    assert drain(mine) == "x" * 300_000
    assert drain(theirs) == RESYNC  # that worker's pages fetch the cart instead

    sibling.publish("user:7", {"close": "signed out", "session": None, "code": 1012})
    assert drain(mine) == drain(theirs) == Close(1012, "signed out")
    sibling.stop()
    publisher.publish("user:7", {"html": "after"})
    assert theirs.inbox.empty() and len(list(folder.glob("*.sock"))) == 1


def test_a_publish_is_on_its_way_to_the_other_workers_before_this_ones_pages_get_it(tmp_path):
    """The other workers serve their pages on the other cores while this one serves its own:
    their datagram goes out first."""
    folder = tmp_path / "live"
    here = Registry()
    publisher = SiblingsBroker(here, folder)
    publisher.start()
    other_worker = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    other_worker.bind(str(folder / "424242-other.sock"))
    other_worker.setblocking(False)
    already_sent: list[bool] = []

    class Page(Subscription):
        def put(self, message) -> None:
            try:
                already_sent.append(b"added" in other_worker.recv(65536))
            except BlockingIOError:
                already_sent.append(False)
            super().put(message)

    page = Page("user:7")
    here.add(page)
    try:
        publisher.publish("user:7", {"html": "<p>added</p>"})
    finally:
        publisher.stop()
        other_worker.close()
    assert drain(page) == "<p>added</p>"
    assert already_sent == [True]


def test_the_registry_tells_its_watchers_when_a_channel_gains_its_first_page_or_loses_its_last():
    registry, told = Registry(), []
    registry.watch(told.append)
    first, second = Subscription("user:1", also=("catalog",)), Subscription("user:1")
    registry.add(first)
    assert told == ["user:1", "catalog"] and registry.holds("user:1")
    # A second page is told too: its hello must wait for the first page's mark.
    registry.add(second)
    assert told[2:] == ["user:1"]
    registry.remove(first)
    assert told[3:] == ["catalog"] and registry.holds("user:1")  # user:1 still has a page
    registry.remove(second)
    assert told[4:] == ["user:1"] and not registry.holds("user:1")


def test_sibling_workers_know_which_channels_have_a_page_open(tmp_path):
    """A publisher learns from its siblings' counters whether any page listens, without
    sending anything; a page that closes stops counting, and so does a worker that stops."""
    folder = tmp_path / "live"
    here, there = Registry(), Registry()
    publisher, sibling = SiblingsBroker(here, folder), SiblingsBroker(there, folder)
    publisher.start()
    assert not publisher.listening("user:7")
    page = Subscription("user:7")
    there.add(page)  # before the sibling listens: counted once it starts
    sibling.start()
    assert publisher.listening("user:7") and not publisher.listening("user:8")
    there.remove(page)
    assert not publisher.listening("user:7")
    there.add(page)
    assert publisher.listening("user:7")
    sibling.stop()
    assert not publisher.listening("user:7")
    own = Subscription("user:9")
    here.add(own)
    assert publisher.listening("user:9")  # its own pages count without any file


def test_the_folder_is_listed_again_only_when_it_changed_and_never_kept_while_fresh(
    tmp_path, monkeypatch
):
    """A publisher keeps the folder's listing while the folder's time says nothing changed;
    a worker that starts later is seen at once. A listing taken just after a change is not
    kept: a file added within the same clock tick would not move the folder's time."""
    folder = tmp_path / "live"
    publisher = SiblingsBroker(Registry(), folder)
    publisher.start()
    listed = []
    real_scandir = os.scandir
    monkeypatch.setattr(os, "scandir", lambda path: listed.append(path) or real_scandir(path))
    assert not publisher.listening("user:7") and not publisher.listening("user:7")
    assert len(listed) == 2  # the folder changed a moment ago (this worker's files): not kept
    long_ago = time.time_ns() - 10**9
    os.utime(folder, ns=(long_ago, long_ago))
    assert not publisher.listening("user:7") and not publisher.listening("user:7")
    assert len(listed) == 3  # settled: listed once, then kept
    there = Registry()
    there.add(Subscription("user:7"))
    sibling = SiblingsBroker(there, folder)
    sibling.start()  # its files change the folder's time
    assert publisher.listening("user:7")
    assert len(listed) == 4


def test_a_dead_siblings_counters_only_ever_say_yes_until_it_is_found_gone(tmp_path):
    folder = tmp_path / "live"
    publisher = SiblingsBroker(Registry(), folder)
    publisher.start()
    # A worker that died with a page open on user:7, without cleaning up: its files stay.
    dead = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    dead.bind(str(folder / "999999-dead.sock"))
    dead.close()
    counters = CountersFile(lambda channel: True)
    counters.open(folder / "999999-dead.presence", ["user:7"])
    assert publisher.listening("user:7") and not publisher.listening("user:8")
    publisher.publish("user:7", {"html": "x"})  # refused: the sibling is forgotten
    assert not publisher.listening("user:7")
    assert sorted(f.name for f in folder.iterdir() if "999999" in f.name) == []


def test_a_siblings_counters_without_its_socket_say_nothing(tmp_path):
    """A worker killed after it wrote its counters but before it bound its socket (or while
    it removed them) leaves a file that must not make every change look watched forever."""
    folder = tmp_path / "live"
    publisher = SiblingsBroker(Registry(), folder)
    publisher.start()
    counters = CountersFile(lambda channel: True)
    counters.open(folder / "999999-orphan.presence", ["user:7"])
    assert not publisher.listening("user:7")


def test_a_mark_lost_while_redis_was_away_is_made_again_when_it_is_back():
    prefix = f"sftest-{secrets.token_hex(4)}"
    theirs = Registry()
    instance = RedisBroker(theirs, REDIS_URL, prefix)
    publisher = RedisBroker(Registry(), REDIS_URL, prefix)
    instance.start()
    marks = instance._presence
    real_client = marks._client
    marks._client = redis.Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2)
    page = Subscription("user:7")
    theirs.add(page)  # the mark fails: Redis is "away"
    assert not publisher.listening("user:7")
    # While it is away, this process answers at once that someone may listen.
    started = time.monotonic()
    assert marks.anyone("user:8") is True and time.monotonic() - started < 0.1
    marks._client = real_client
    marks.reconcile()  # what the subscriber does once it is connected again
    assert publisher.listening("user:7")
    theirs.remove(page)
    assert not publisher.listening("user:7")


def test_a_subscriber_that_lost_redis_lets_its_connection_go_before_it_retries(monkeypatch):
    broker = RedisBroker(Registry(), REDIS_URL, f"sftest-{secrets.token_hex(4)}")
    connected, at_back_off = [], []
    real_subscribe = broker._subscribe

    def subscribed_then_lost(pubsub):
        real_subscribe(pubsub)
        connected.append(pubsub)
        raise redis.ConnectionError("Redis went away")

    class BackOffOnce(threading.Event):
        def wait(self, timeout=None):  # the back-off: what is still held, then stop
            at_back_off.append([pubsub.connection for pubsub in connected])
            self.set()
            return True

    monkeypatch.setattr(broker, "_subscribe", subscribed_then_lost)
    broker._stopped = BackOffOnce()
    broker.start()
    broker._listener.join(5)
    assert len(connected) == 1 and at_back_off == [[None]]


def test_redis_keeps_which_channels_have_a_page_open_on_any_instance():
    prefix = f"sftest-{secrets.token_hex(4)}"
    theirs, ours = Registry(), Registry()
    instance, publisher = (
        RedisBroker(theirs, REDIS_URL, prefix),
        RedisBroker(ours, REDIS_URL, prefix),
    )
    instance.start()
    assert not publisher.listening("user:7")
    page = Subscription("user:7")
    theirs.add(page)
    assert publisher.listening("user:7") and not publisher.listening("user:8")
    assert not RedisBroker(Registry(), REDIS_URL, prefix + "-x").listening("user:7")
    ttl = instance.client.ttl(f"{prefix}:listening:user:7")
    assert 0 < ttl <= 60  # a process that dies stops counting within a minute
    theirs.remove(page)
    assert not publisher.listening("user:7")


def test_a_change_nobody_is_watching_is_neither_rendered_nor_sent(
    app, browser, make_product, monkeypatch
):
    from storefront import realtime
    from storefront.cart import announce
    from storefront.cart.types import Owner

    sku = make_product(stock=50)
    rendered, sent = [], []
    real_fragment = announce._fragment
    monkeypatch.setattr(
        announce, "_fragment", lambda *a, **k: rendered.append(1) or real_fragment(*a, **k)
    )
    with app.app_context():
        broker = realtime.broker()
        monkeypatch.setattr(broker, "publish", lambda channel, envelope: sent.append(channel))
    assert browser.add(sku).status_code == 200
    assert rendered == [] and sent == []
    with browser.client.session_transaction() as session:
        channel = Owner.guest(session["guest"]).channel
    # A page of this shopper open in a sibling worker: the next change is built and sent.
    with app.app_context():
        sibling = SiblingsBroker(Registry(), broker.directory)
    sibling.registry.add(Subscription(channel))
    sibling.start()
    try:
        assert browser.add(sku).status_code == 200
        assert rendered == [1] and sent == [channel]
    finally:
        sibling.stop()


def test_publishing_without_redis_does_not_fail_the_change():
    broker = RedisBroker(Registry(), "redis://127.0.0.1:1/0", "x")
    broker.publish("user:1", {"html": "lost"})  # logs, never raises
    assert broker.healthy() is False
    broker.stop()


@pytest.fixture
def live(app):
    with serve(app) as base:
        yield base


def connect(base: str, shopper: HttpShopper) -> PageSocket:
    return open_page_socket(base, shopper.cookie)


def receive_until(ws, pattern: str, timeout: float = 5.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        message = ws.receive(timeout=max(0.01, deadline - time.monotonic()))
        if message and re.search(pattern, message):
            return message
    raise AssertionError(f"no message matching {pattern!r}")


def test_the_handshake_needs_the_pages_own_origin(live):
    shopper = HttpShopper(live)
    assert handshake_status(live, None, shopper.cookie) == 403
    assert handshake_status(live, "http://evil.example", shopper.cookie) == 403
    assert handshake_status(live, live.replace("127.0.0.1", "localhost"), shopper.cookie) == 403
    assert handshake_status(live, live, shopper.cookie) == 101


def test_a_socket_gets_the_current_cart_at_once_then_every_change(live, make_product):
    first, second = make_product(), make_product()
    phone = HttpShopper(live)
    phone.call("POST", "/cart/lines", {"sku": first, "quantity": 1})
    laptop = HttpShopper(live, cookie=phone.cookie)  # another tab of the same browser
    ws = connect(live, laptop)
    hello = receive_until(ws, "hello")
    assert 'data-cart-version="1"' in hello
    phone.call("POST", "/cart/lines", {"sku": second, "quantity": 2})
    event = receive_until(ws, "cart-state")
    assert 'data-cart-version="2"' in event
    assert re.search(r'data-testid="cart-count"[^>]*>3<', event)
    assert "added on another device" in event
    assert "&lt;" not in event and "&#34;" not in event  # markup, not text about markup
    assert f'data-sku="{second}"' in event and f'data-sku="{first}"' not in event
    assert "csrf_token" not in event
    ws.close()


def test_another_shopper_receives_nothing(live, make_product):
    alices, bobs = make_product(), make_product()
    alice, bob = HttpShopper(live), HttpShopper(live)
    ws = connect(live, bob)
    receive_until(ws, "hello")
    alice.call("POST", "/cart/lines", {"sku": alices, "quantity": 1})
    bob.call("POST", "/cart/lines", {"sku": bobs, "quantity": 1})
    event = receive_until(ws, "cart-state")
    assert f'data-sku="{bobs}"' in event and alices not in event
    ws.close()


def test_signing_out_closes_that_devices_sockets(live):
    shopper = HttpShopper(live)
    assert (
        shopper.form("/register", {"email": "ws@example.com", "password": "long enough pw"}) == 302
    )
    shopper.refresh()
    ws = connect(live, shopper)
    receive_until(ws, "hello")
    shopper.form("/logout", {})
    deadline = time.monotonic() + 5
    while ws.connected and time.monotonic() < deadline:
        try:
            ws.receive(timeout=0.2)
        except simple_websocket.ConnectionClosed:
            break
    assert not ws.connected
    assert ws.close_reason == 1012


def test_readyz_reports_redis_when_it_is_configured(database_url, tmp_path):
    from storefront import create_app
    from tests.conftest import app_settings

    up = create_app(app_settings(database_url, str(tmp_path), STOREFRONT_REDIS_URL=REDIS_URL))
    assert up.test_client().get("/readyz").status_code == 200
    down = create_app(
        app_settings(database_url, str(tmp_path), STOREFRONT_REDIS_URL="redis://127.0.0.1:1/0")
    )
    response = down.test_client().get("/readyz")
    assert response.status_code == 503 and response.json["failing"] == ["redis"]


@pytest.fixture
def page_in_a_new_worker(monkeypatch):
    """A page on a process whose Redis subscriber has just started, Redis a little slow to
    confirm it (without the greeting's wait, a publish then always wins the race); returns
    the page's subscription and its broker, not started."""
    subscribe = RedisBroker._subscribe
    monkeypatch.setattr(
        RedisBroker, "_subscribe", lambda self, pubsub: time.sleep(0.3) or subscribe(self, pubsub)
    )
    theirs = Registry()
    page = Subscription("user:7")
    theirs.add(page)
    return page, RedisBroker(theirs, REDIS_URL, f"sftest-{secrets.token_hex(4)}")


def test_a_page_greeted_by_a_process_that_just_started_hears_the_next_change(
    page_in_a_new_worker,
):
    """Its hello waits for the Redis subscription, so a change published right after it is
    greeted is not lost (seen in CI after a reload)."""
    page, instance = page_in_a_new_worker
    instance.start()  # what the socket does before reading its hello
    RedisBroker(Registry(), REDIS_URL, instance._prefix).publish("user:7", {"html": "just after"})
    assert drain(page) == "just after"


def test_a_page_greeted_before_redis_answered_is_told_to_resync_once_it_does(
    page_in_a_new_worker, monkeypatch
):
    # Not "from storefront.realtime import broker": that is the package's function.
    broker_module = importlib.import_module("storefront.realtime.broker")
    monkeypatch.setattr(broker_module, "FIRST_SUBSCRIPTION_WAIT_SECONDS", 0.0)
    page, instance = page_in_a_new_worker
    instance.start()  # greeted without waiting: a change meanwhile may have been missed
    assert drain(page) == RESYNC


def test_while_redis_is_away_pages_are_greeted_without_waiting():
    broker = RedisBroker(Registry(), "redis://127.0.0.1:1/0", "x")
    broker.start()  # until the subscriber's first attempt has failed
    started = time.monotonic()
    broker.start()
    assert time.monotonic() - started < 0.1
    broker.stop()  # no retrying thread left behind for later tests
