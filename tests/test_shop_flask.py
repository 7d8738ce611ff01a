"""The shop's Flask class keeps Flask's answer to "is this a coroutine function?"."""

from __future__ import annotations

import functools

import pytest

from storefront.shop_flask import Shop


def test_plain_functions_run_as_they_are_and_coroutine_functions_are_still_wrapped():
    app = Shop(__name__)

    def plain():
        return "plain"

    async def waits():
        return "waited"

    class Hooks:
        def method(self):
            return "method"

        async def async_method(self):
            return "async method"

    hooks = Hooks()
    for _ in range(2):  # asked again: the same answers
        assert app.ensure_sync(plain) is plain
        assert app.ensure_sync(hooks.method) == hooks.method
        partial = functools.partial(plain)
        assert app.ensure_sync(partial) is partial
        for coroutine_function in (waits, hooks.async_method):
            try:
                wrapped = app.ensure_sync(coroutine_function)
            except RuntimeError as exc:  # Flask without its "async" extra says so
                assert "async" in str(exc)
            else:
                assert wrapped is not coroutine_function


@pytest.mark.parametrize("path", ["/", "/api/v1/cart"])
def test_the_shop_is_built_on_it(app, path):
    assert isinstance(app, Shop)
    assert app.test_client().get(path).status_code == 200
