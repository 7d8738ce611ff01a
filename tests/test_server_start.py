"""What a served worker does once its app is loaded (storefront/server.py, called by
gunicorn.conf.py's post_worker_init)."""

from __future__ import annotations

import pytest

from storefront import server


def test_a_served_worker_compiles_no_template_while_answering(app, browser, make_product):
    """Every template is compiled at start: a shopper's first visit to a page after a start or
    a deploy is as fast as the next one."""
    sku = make_product(name="Blue Mug")
    assert browser.add(sku, 2).status_code == 200
    server.compile_templates(app)

    def no_compiling(*args, **kwargs):
        pytest.fail("a template was compiled while answering a request")

    app.jinja_env.compile = no_compiling
    for path in ("/", f"/products/{sku}", "/cart", "/cart/handoff", "/checkout", "/login"):
        assert browser.page(path).status_code == 200, path
    added = browser.form("/cart/lines", {"sku": sku, "quantity": "1"}, htmx=True)
    assert added.status_code == 200 and "Blue Mug" in added.get_data(as_text=True)
    assert "3 items in your cart" in added.get_data(as_text=True)
