"""The test databases themselves: each test starts from the template as it was made
(tests/dbs.py), whatever the test before it wrote."""

from __future__ import annotations

import secrets

import pytest
from sqlalchemy import create_engine, make_url, text

from tests import dbs


def _contents(url: str) -> dict[str, str | None]:
    """Every app table's rows, as a digest, and where the ids of those that have them go
    next."""
    engine = create_engine(url)
    with engine.connect() as conn:
        seen = {
            table: conn.execute(
                text(f"SELECT md5(string_agg(t::text, ',' ORDER BY t::text)) FROM {table} t")
            ).scalar()
            for table in dbs.app_tables(conn)
        }
        for sequence in conn.execute(
            text("SELECT sequencename FROM pg_sequences WHERE schemaname = current_schema()")
        ).scalars():
            seen[sequence] = str(
                conn.execute(text(f"SELECT last_value, is_called FROM {sequence}")).one()
            )
    engine.dispose()
    return seen


@pytest.mark.skipif(not dbs.POSTGRES_URL, reason="SQLite tests each get a copy of the file")
def test_a_reset_puts_back_exactly_what_the_template_held(
    database_template, app, browser, make_product
):
    url = database_template.url
    database_template()  # as the first test finds it
    before = _contents(url)
    assert browser.add(make_product(name="New mug"), 2).status_code == 200
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE products SET price_cents = price_cents + 1 WHERE id = 7"))
        conn.execute(text("DELETE FROM stock_movements WHERE id = 3"))
        conn.execute(text("DELETE FROM products WHERE id = 1500"))
        conn.execute(text("UPDATE counters SET value = value + 5"))
    engine.dispose()
    changed = _contents(url)
    assert {"products", "stock_movements", "counters", "carts"} <= {
        name for name in before if before[name] != changed[name]
    }
    database_template()
    assert _contents(url) == before
    database_template()  # nothing written in between: nothing to put back
    assert _contents(url) == before


@pytest.mark.skipif(not dbs.POSTGRES_URL, reason="SQLite tests each get a copy of the file")
def test_a_user_who_is_not_a_superuser_gets_the_same_reset(
    database_template, app, browser, make_product
):
    """Not every server lends the tests a superuser: the reset then truncates and copies the
    whole template back, with the same result. The user owns the tables, as one that created
    the database and ran the migrations does."""
    url = database_template.url
    database_template()
    before = _contents(url)
    role = f"storefront_test_{secrets.token_hex(4)}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE ROLE {role} LOGIN"))
    reset = dbs.PostgresReset(make_url(url).set(username=role).render_as_string(False))
    try:
        with admin.connect() as conn:
            for table in conn.execute(
                text("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")
            ).scalars():
                conn.execute(text(f"ALTER TABLE {table} OWNER TO {role}"))
        assert browser.add(make_product(name="New mug"), 2).status_code == 200
        assert _contents(url) != before
        reset()
        assert reset.superuser is False
        assert _contents(url) == before
    finally:
        reset.close()
        with admin.connect() as conn:
            conn.execute(text(f"REASSIGN OWNED BY {role} TO current_user"))
            conn.execute(text(f"DROP ROLE {role}"))
        admin.dispose()
