from __future__ import annotations

import base64
import os
import time

import pytest
from flask_migrate import upgrade
from hypothesis import settings as hypothesis_settings
from sqlalchemy import text

from storefront import clock, create_app, realtime
from storefront.catalog.demo import load_demo
from storefront.checkout import setup as selling
from storefront.extensions import db
from tests import dbs, factories, reuse
from tests.helpers import Browser
from tests.mailbox import Mailbox

# Property tests: capped examples, no per-example deadline (CI machines are shared).
hypothesis_settings.register_profile("default", max_examples=100, deadline=None)
hypothesis_settings.register_profile("ci", max_examples=300, deadline=None, derandomize=True)
hypothesis_settings.load_profile("ci" if os.environ.get("CI") == "true" else "default")

KEY = base64.urlsafe_b64encode(b"k" * 32).decode()
reuse.reuse_url_builders()


def app_settings(database_url: str, instance: str, **extra) -> dict:
    return {
        "STOREFRONT_DATABASE_URL": database_url,
        "STOREFRONT_SECRET_KEY": "test-secret",
        "STOREFRONT_ENCRYPTION_KEYS": KEY,
        # Tests fire many changes per second; the rate-limit tests set their own limit.
        "STOREFRONT_CART_RATE_LIMIT": "10000/second",
        "RATELIMIT_ENABLED": True,
        "INSTANCE_PATH": instance,
        "TESTING": True,
        **extra,
    }


def prepare_schema(database_url: str, instance: str) -> None:
    app = create_app(app_settings(database_url, instance))
    with app.app_context():
        upgrade()
        load_demo()
        selling.load_demo()
        if dbs.POSTGRES_URL:  # a copy to reset from between tests, much faster than reloading
            for table in dbs.PRISTINE:
                db.session.execute(text(f"CREATE TABLE {table}_pristine AS SELECT * FROM {table}"))
            db.session.commit()
        db.session.remove()
        if not dbs.POSTGRES_URL:
            # Each test copies the template's file alone: what is still in its WAL (the demo,
            # under load, when the background checkpointer has not run yet) must be in it.
            # The app's own background checkpointer may be mid-checkpoint (SQLite answers a
            # second one "busy" at once, without waiting): try again for up to 10 s.
            raw = db.engine.raw_connection()
            try:
                for _ in range(100):
                    busy = raw.cursor().execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
                    if busy == 0:
                        break
                    time.sleep(0.1)
                assert busy == 0, "the test database template could not be checkpointed"
            finally:
                raw.close()
        db.engine.dispose()


@pytest.fixture(scope="session")
def database_template(tmp_path_factory):
    directory = tmp_path_factory.mktemp("template")
    if dbs.POSTGRES_URL:
        url = dbs.create_postgres_database()
        prepare_schema(url, str(directory))
        reset = dbs.PostgresReset(url)
        yield reset
        reset.close()
        dbs.drop_postgres_database(url)
    else:
        template = dbs.SqliteTemplate(directory)
        prepare_schema(f"sqlite:///{template.path}", str(directory))
        yield template


@pytest.fixture
def database_url(database_template, tmp_path):
    if isinstance(database_template, dbs.PostgresReset):
        yield database_template.url
        database_template()
    else:
        yield database_template.url_for(tmp_path)


@pytest.fixture
def settings():
    """Extra STOREFRONT_* settings for this test's app; override the fixture to change them."""
    return {}


@pytest.fixture
def app(database_url, tmp_path, settings):
    clock.reset()
    application = create_app(app_settings(database_url, str(tmp_path), **settings))
    reuse.share_compiled_templates(application)
    yield application
    with application.app_context():
        db.session.remove()
        db.engine.dispose()
    clock.reset()


@pytest.fixture
def make_product(app):
    """``make_product(sku=None, *, name, price, stock, options, active, description) -> sku``:
    a new product in this test's catalog (see tests/factories.py)."""

    def make(sku: str | None = None, **properties) -> str:
        with app.app_context():
            return factories.make_product(sku, **properties)

    return make


@pytest.fixture
def make_products(app):
    """``make_products(count, **properties) -> [sku, ...]``: that many new products, alike."""

    def make(count: int, **properties) -> list[str]:
        with app.app_context():
            return factories.make_products(count, **properties)

    return make


@pytest.fixture
def sample_catalog(app):
    """Products ``PLAIN``, ``SIZED``, ``ENGRAVABLE`` and ``LAST_THREE`` (tests/factories.py)."""
    with app.app_context():
        factories.make_sample_catalog()


@pytest.fixture
def browser(app):
    return Browser(app.test_client())


@pytest.fixture
def mailbox():
    """A real SMTP server on loopback (tests/mailbox.py), with a login; point the app at it with
    ``STOREFRONT_SMTP_URL = mailbox.url`` in the test's ``settings``."""
    box = Mailbox(username="shop", password="s3cret pass").start()
    yield box
    box.stop()


STAFF_EMAIL = "staff@example.com"


@pytest.fixture
def staff(app):
    """A browser signed in as a staff account (``users grant-staff``), for the back office."""
    staff_browser = Browser(app.test_client())
    staff_browser.register(STAFF_EMAIL)
    result = app.test_cli_runner().invoke(args=["users", "grant-staff", STAFF_EMAIL])
    assert result.exit_code == 0, result.output
    staff_browser.page("/admin")
    return staff_browser


@pytest.fixture
def published(monkeypatch) -> list[tuple[str, str]]:
    """What the app publishes to open pages, as (channel, html), instead of publishing it.
    Every channel counts as having a page open (the app skips what nobody would get)."""
    sent: list[tuple[str, str]] = []

    def publish(channel: str, html: str, **_timing) -> None:
        sent.append((channel, html))

    monkeypatch.setattr(realtime, "publish", publish)
    monkeypatch.setattr(realtime, "listening", lambda channel: True)
    return sent


@pytest.fixture
def other_browser(app):
    return Browser(app.test_client(), user_agent="Mozilla/5.0 (Android 14) Firefox/130.0")


def pytest_report_header(config):
    return f"database: {'PostgreSQL' if dbs.POSTGRES_URL else 'SQLite'}; CI={os.environ.get('CI')}"


@pytest.fixture(autouse=True, scope="session")
def _fast_password_hashing():
    """Argon2 with its production cost makes every sign-up in the suite slow; the checks under
    test (verify, wrong password, unknown email) behave the same at the lowest cost."""
    from argon2 import PasswordHasher

    from storefront.accounts import services

    original = services.hasher
    services.hasher = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    services._dummy_hash.cache_clear()
    yield
    services.hasher = original
    services._dummy_hash.cache_clear()
