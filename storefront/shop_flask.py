"""The shop's Flask class."""

from __future__ import annotations

from types import CodeType, FunctionType

from flask import Flask


class Shop(Flask):
    """Flask, which knows once per function body whether a function needs running as a
    coroutine.

    Flask asks ``inspect.iscoroutinefunction`` of every before- and after-request function and
    of the view, on every request: 15 times a cart add, about 1 % of it (issue 10). For a plain
    function or a method the answer is written in the function's code object, so once a code
    object is known not to be a coroutine's, its functions are returned as they are. Anything
    else (a partial, a callable object) is asked every time, as before. (A shop whose code
    shares one body between an ``async`` view and a plain one is not a case that exists.)"""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._plain_bodies: set[CodeType] = set()

    def ensure_sync(self, func):
        function = getattr(func, "__func__", func)  # a bound method's function
        body = getattr(function, "__code__", None)
        if body in self._plain_bodies:
            return func
        synced = super().ensure_sync(func)
        if synced is func and type(function) is FunctionType:
            self._plain_bodies.add(body)
        return synced
