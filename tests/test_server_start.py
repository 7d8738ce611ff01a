"""What a served worker does once its app is loaded (storefront/server.py, called by
gunicorn.conf.py's post_worker_init)."""

from __future__ import annotations

import logging

import pytest
from flask import Flask
from jinja2 import TemplateSyntaxError

from storefront import server


def test_a_served_worker_compiles_no_template_while_answering(app, browser, make_product):
    """Every template is compiled at start: a shopper's first visit to a page after a start or
    a deploy is as fast as the next one."""
    app.jinja_env.bytecode_cache = None  # compiled here, not handed over from other tests
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


def test_a_template_that_does_not_compile_is_logged_and_the_rest_are_compiled(app, caplog):
    env = app.jinja_env
    compiled, get_template = [], env.get_template

    def broken_cart_page(name, *args, **kwargs):
        if name == "cart/page.html":
            raise TemplateSyntaxError("unexpected '}'", 3, name)
        compiled.append(name)
        return get_template(name, *args, **kwargs)

    env.get_template = broken_cart_page
    with caplog.at_level(logging.ERROR, logger="storefront.server"):
        server.compile_templates(app)
    assert "template cart/page.html does not compile" in caplog.text
    assert len(compiled) == len(env.list_templates()) - 1


def test_only_the_shop_is_prepared_by_the_shops_gunicorn_config(app):
    """The benches serve bare baseline apps with the same gunicorn.conf.py: their templates
    (the repository's, found from the working directory) and jobs are not theirs."""
    assert server.is_shop(app)
    assert not server.is_shop(Flask("bench_bare"))
