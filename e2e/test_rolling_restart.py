"""Upgrading a running shop behind the shipped nginx site (deploy/nginx/storefront.conf) without
the shopper noticing (docs/UPGRADING.md):

- a rolling restart (instance 1 stopped as systemd stops it and started again, then instance
  2) while two devices of one shopper keep changing the cart: no request fails, no change is
  lost, every open page's socket is closed with 1012 (service restart) and both pages are live
  again by themselves, without a reload;
- ``systemctl reload`` (gunicorn's HUP): new workers, old ones close their sockets with 1012,
  and the page reconnects by itself and hears the next change.

Every wait is on the page (Playwright ``expect`` or a condition the page's script reaches).
"""

from __future__ import annotations

import threading
import time

import pytest
from playwright.sync_api import expect

from e2e.proxied import fail_if_missing, open_https_device, start_proxied_shop
from e2e.shop import (
    add_to_cart,
    api_contents,
    expect_lines,
    new_email,
    open_live,
    register,
    same_page,
    set_quantity,
    sign_in,
    wait_connected,
)

SKU = "DEMO-0301"
# A page whose socket closed reconnects with backoff and jitter (htmx's ws extension: at most a
# few seconds for the first attempts); "live again within seconds".
LIVE_AGAIN_MS = 10_000
WORKERS_REPLACED_SECONDS = 30.0

# A restarting instance listens before its workers have loaded the app (measured: 9 s on the
# shared test machine): requests sent to it meanwhile wait, they do not fail. Waits during the
# restarts allow for that.
RESTARTING_MS = 30_000

# Each socket the page opened records how it closed (the code the server sent). An attempt
# that never opened is not counted here: nginx's log shows it (a 5xx fails the test).
RECORD_CLOSES = """
(() => {
  const Native = window.WebSocket;
  window.__e2eCloseCodes = [];
  window.__e2eSocketsOpened = 0;
  window.WebSocket = class extends Native {
    constructor(...args) {
      super(...args);
      this.addEventListener("open", () => {
        window.__e2eSocketsOpened += 1;
        this.addEventListener("close", (event) => window.__e2eCloseCodes.push(event.code));
      });
    }
  };
})();
"""


@pytest.fixture(scope="module")
def proxied(tmp_path_factory, browser):
    yield from start_proxied_shop(tmp_path_factory, "rolling")


@pytest.fixture
def devices(browser, proxied):
    contexts: list = []

    def open_device():
        page = open_https_device(browser, fail_if_missing(proxied), contexts)
        page.context.add_init_script(RECORD_CLOSES)
        page.context.set_default_timeout(RESTARTING_MS)
        return page

    yield open_device
    for context in contexts:
        context.close()


def close_codes(page) -> list[int]:
    return page.evaluate("() => window.__e2eCloseCodes")


def sockets_opened(page) -> int:
    return page.evaluate("() => window.__e2eSocketsOpened")


def wait_workers_replaced(instance, before: list[int]) -> list[int]:
    """Polls gunicorn's process table (a process, not a page) until none of ``before`` is left
    and as many new workers run."""
    deadline = time.monotonic() + WORKERS_REPLACED_SECONDS
    while time.monotonic() < deadline:
        now = instance.worker_pids()
        if now and len(now) == len(before) and not set(now) & set(before):
            return now
        time.sleep(0.1)
    raise AssertionError(f"workers {before} still there: {instance.worker_pids()}")


def two_devices_on_one_cart(devices):
    a, b = devices(), devices()
    email = new_email("rolling")
    register(a, email)
    sign_in(b, email)
    add_to_cart(a, SKU, 1)
    open_live(a, "/cart")
    open_live(b, "/cart")
    expect_lines(b, {SKU: 1})
    return a, b


def test_rolling_restart_loses_no_request_and_no_change(proxied, devices):
    shop = fail_if_missing(proxied)
    a, b = two_devices_on_one_cart(devices)
    workers_before = [instance.worker_pids() for instance in shop.instances]
    logged_before = len(shop.access_lines())
    failures: list[BaseException] = []

    def restart_one_by_one() -> None:
        try:
            for instance in shop.instances:
                instance.rolling_restart()  # returns once it answers /healthz again
        except BaseException as exc:  # reported by the test below
            failures.append(exc)

    restarts = threading.Thread(target=restart_one_by_one, name="rolling-restart")
    quantity = 1
    with same_page(a), same_page(b):
        restarts.start()
        # Both shoppers keep changing the cart, one after the other, for as long as the
        # restarts take, and each change reaches the other page.
        while restarts.is_alive() or quantity < 6:
            quantity += 1
            doing, seeing = (a, b) if quantity % 2 else (b, a)
            set_quantity(doing, SKU, quantity)
            expect_lines(seeing, {SKU: quantity}, timeout=RESTARTING_MS)
            assert quantity < 500, "the restarts never finished"
        restarts.join()
        assert not failures, failures

        # Both pages are live again: connected, and each hears the other's next change.
        wait_connected(a)
        wait_connected(b)
        set_quantity(a, SKU, quantity + 1)
        expect_lines(b, {SKU: quantity + 1}, timeout=LIVE_AGAIN_MS)
        set_quantity(b, SKU, quantity + 2)
        expect_lines(a, {SKU: quantity + 2}, timeout=LIVE_AGAIN_MS)

    # Nothing lost, nothing applied twice.
    assert api_contents(a) == {SKU: quantity + 2}
    # Both instances really restarted, each page's socket was closed by a restart (1012) and
    # never dropped (1006), and the pages opened new ones by themselves.
    for instance, before in zip(shop.instances, workers_before, strict=True):
        assert before and not set(before) & set(instance.worker_pids()), instance.url
    for page in (a, b):
        codes = close_codes(page)
        assert 1012 in codes and set(codes) == {1012}, codes
        assert sockets_opened(page) > len(codes) >= 1
    # And no shopper saw a failure: not in the browsers, not in nginx's log.
    assert not shop.errors, shop.errors
    during = shop.access_lines()[logged_before:]
    failed = [line for line in during if line[0] >= 500]
    assert not failed, f"nginx answered with errors: {failed}\n{shop.logs()}"


def test_reload_closes_sockets_with_1012_and_pages_reconnect(proxied, devices):
    shop = fail_if_missing(proxied)
    a, b = two_devices_on_one_cart(devices)
    opened = sockets_opened(a)

    with same_page(a), same_page(b):
        # `systemctl reload storefront-web@…` on both: gunicorn's HUP.
        workers_before = [instance.reload() for instance in shop.instances]
        a.wait_for_function("() => window.__e2eCloseCodes.includes(1012)")
        b.wait_for_function("() => window.__e2eCloseCodes.includes(1012)")
        for page in (a, b):
            expect(page.get_by_test_id("sync-status")).to_have_attribute(
                "data-state", "connected", timeout=RESTARTING_MS
            )
        for instance, before in zip(shop.instances, workers_before, strict=True):
            wait_workers_replaced(instance, before)
        # Live again, on the new workers: a change on one device reaches the other.
        set_quantity(b, SKU, 4)
        expect_lines(a, {SKU: 4}, timeout=LIVE_AGAIN_MS)
        set_quantity(a, SKU, 5)
        expect_lines(b, {SKU: 5}, timeout=LIVE_AGAIN_MS)

    assert set(close_codes(a)) == {1012}, close_codes(a)
    assert sockets_opened(a) > opened
    assert api_contents(b) == {SKU: 5}
    assert not shop.errors, shop.errors
