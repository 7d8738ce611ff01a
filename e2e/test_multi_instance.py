"""Two instances of one shop behind no load balancer: device A talks to instance 1, device B to
instance 2, and live sync still reaches both through Redis. When Redis goes away, carts keep
working (each change is committed to PostgreSQL first); when it comes back, both pages heal
without a reload and nothing is lost.

Needs PostgreSQL (``E2E_POSTGRES_URL``, default ``postgresql+psycopg://postgres@127.0.0.1:5432/``;
the run creates its own database and drops it) and ``redis-server`` on the PATH (started here on
a free port, in memory only). Without them the test is skipped locally, but fails when
``CI=true``.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from e2e.cluster import (
    REDIS_SERVER,
    Cluster,
    RedisProcess,
    create_database,
    drop_database,
    postgres_available,
    redis_server_binary,
)
from e2e.conftest import ARTIFACTS, device_factory, missing_requirement
from e2e.shop import (
    ELSEWHERE,
    SocketBlock,
    add_to_cart,
    api_add,
    api_contents,
    expect_lines,
    line_quantity,
    new_email,
    notice,
    open_live,
    register,
    same_page,
    set_quantity,
    sign_in,
    sync_status,
    visit,
    wait_fallback,
)

# After Redis is back, each instance's subscriber reconnects with backoff (at most 10 s apart)
# and then tells its pages to resync.
HEAL_MS = 30_000


@pytest.fixture(scope="module")
def cluster(tmp_path_factory, browser):
    reasons = []
    binary = redis_server_binary()
    if binary is None:
        reasons.append(f"{REDIS_SERVER} not found on PATH (apt-get install redis-server)")
    problem = postgres_available()
    if problem:
        reasons.append(problem)
    if reasons:
        missing_requirement("cluster", "; ".join(reasons))
    if reasons or browser is None:  # under CI=true the test fails when it runs (see conftest)
        yield None
        return

    ARTIFACTS.mkdir(exist_ok=True)
    redis = RedisProcess(binary, ARTIFACTS / "redis.log")
    database_url = create_database()
    cluster = Cluster(tmp_path_factory.mktemp("cluster"), ARTIFACTS, database_url, redis)
    try:
        redis.start()
        cluster.start()
        yield cluster
    finally:
        cluster.stop()
        redis.stop()
        drop_database(database_url)


@pytest.fixture
def device_on(request, browser, cluster):
    """``device_on(n)`` opens a new device (browser context) talking to instance ``n``."""
    if cluster is None:  # under CI=true the test fails before using this (see conftest)
        yield None
        return
    with device_factory(request, browser, cluster.servers[0].url, cluster.servers) as open_device:
        yield lambda number: open_device(base_url=cluster.servers[number - 1].url)


def ready(page) -> int:
    return page.request.get("/readyz").status


def test_two_instances_sync_through_redis_and_heal_after_it_comes_back(cluster, device_on):
    email = new_email("cluster")
    a = device_on(1)
    register(a, email)
    kettle = add_to_cart(a, "DEMO-0301", 1)
    b = device_on(2)
    sign_in(b, email)  # the same account, on the other instance
    open_live(a, "/cart")
    open_live(b, "/cart")
    expect_lines(b, {"DEMO-0301": 1})

    with same_page(a), same_page(b):
        # Instance 1 -> instance 2, and back.
        set_quantity(a, "DEMO-0301", 2)
        expect_lines(b, {"DEMO-0301": 2})
        expect(notice(b)).to_contain_text(f"{kettle.name} set to 2 {ELSEWHERE}")
        api_add(b, "DEMO-0302", 1)
        expect_lines(a, {"DEMO-0301": 2, "DEMO-0302": 1})
        expect_lines(b, {"DEMO-0301": 2, "DEMO-0302": 1})
        set_quantity(b, "DEMO-0302", 3)
        expect_lines(a, {"DEMO-0301": 2, "DEMO-0302": 3})

        # Redis goes away. Both instances say they are not ready, and carts keep working.
        cluster.redis.stop()
        assert ready(a) == 503 and ready(b) == 503
        set_quantity(a, "DEMO-0301", 4)
        expect(line_quantity(a, "DEMO-0301")).to_have_value("4")
        set_quantity(b, "DEMO-0302", 5)
        expect(line_quantity(b, "DEMO-0302")).to_have_value("5")
        api_add(a, "DEMO-0303", 2)  # the last change, on instance 1: both pages missed it
        everything = {"DEMO-0301": 4, "DEMO-0302": 5, "DEMO-0303": 2}
        assert api_contents(a) == everything
        assert api_contents(b) == everything

        # Redis is back: both pages heal by themselves, without a reload.
        cluster.redis.start()
        expect_lines(a, everything, timeout=HEAL_MS)
        expect_lines(b, everything, timeout=HEAL_MS)
        assert ready(a) == 200 and ready(b) == 200

        # And live sync works across the instances again.
        set_quantity(b, "DEMO-0303", 1)
        expect_lines(a, {"DEMO-0301": 4, "DEMO-0302": 5, "DEMO-0303": 1})
        set_quantity(a, "DEMO-0301", 6)
        expect_lines(b, {"DEMO-0301": 6, "DEMO-0302": 5, "DEMO-0303": 1})
    # Nothing was lost, nothing applied twice.
    assert api_contents(a) == {"DEMO-0301": 6, "DEMO-0302": 5, "DEMO-0303": 1}


def test_a_page_on_the_fallback_hears_the_other_instance(cluster, device_on):
    """B's WebSocket is blocked (it falls back to Server-Sent Events) and B is served by the
    other instance: A's changes still reach it through Redis, and B's reach A."""
    email = new_email("cluster-fallback")
    a = device_on(1)
    register(a, email)
    add_to_cart(a, "DEMO-0311", 1)
    b = device_on(2)
    SocketBlock(b.context)
    sign_in(b, email)
    open_live(a, "/cart")
    visit(b, "/cart")
    wait_fallback(b)

    with same_page(a), same_page(b):
        set_quantity(a, "DEMO-0311", 3)
        expect_lines(b, {"DEMO-0311": 3})
        expect(notice(b)).to_contain_text(f"set to 3 {ELSEWHERE}")
        api_add(a, "DEMO-0312", 2)
        expect_lines(b, {"DEMO-0311": 3, "DEMO-0312": 2})
        set_quantity(b, "DEMO-0312", 4)
        expect_lines(a, {"DEMO-0311": 3, "DEMO-0312": 4})
        expect(sync_status(b)).to_have_attribute("data-state", "fallback")
    assert api_contents(a) == {"DEMO-0311": 3, "DEMO-0312": 4}
