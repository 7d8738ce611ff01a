"""What every test's fresh app would otherwise build again from the same source.

Each test makes its own app (its own database, settings and instance folder), and a new app
compiles its URL rules and, on first use, its templates: about 0.1 s of every test's setup and
more for a test that renders pages, a third of a run's time (profiled, session 25). Both are
pure functions of their source, so the test process builds each once and hands it to every app.
Nothing here is the shop's: a served worker builds them once anyway (storefront/server.py).
"""

from __future__ import annotations

import inspect

from jinja2 import BytecodeCache
from werkzeug.routing import Rule


class SharedTemplates(BytecodeCache):
    """Jinja's own cache of compiled templates, kept in this process: keyed by the template's
    name and a checksum of its source, so an edited template is compiled again. Every test app
    has the same environment settings and extensions (storefront/web.py)."""

    def __init__(self):
        self._code: dict[str, bytes] = {}

    def load_bytecode(self, bucket) -> None:
        code = self._code.get(bucket.key)
        if code is not None:
            bucket.bytecode_from_string(code)

    def dump_bytecode(self, bucket) -> None:
        self._code[bucket.key] = bucket.bytecode_to_string()


shared_templates = SharedTemplates()


def share_compiled_templates(app) -> None:
    app.jinja_env.bytecode_cache = shared_templates


def reuse_url_builders() -> None:
    """Werkzeug compiles two URL builder functions for every rule of every new app (generated
    source, parsed and compiled: 85 % of ``create_app``). A builder is a plain function of the
    rule's parsed parts; the rule it serves is passed to it, so one built for the same parts is
    the same function. Rules with defaults are built as before (a default can be converted
    into the builder). Left alone if werkzeug's private method is not the one this expects."""
    compile_builder = getattr(Rule, "_compile_builder", None)
    if compile_builder is None or getattr(compile_builder, "reused", False):
        return
    if list(inspect.signature(compile_builder).parameters) != ["self", "append_unknown"]:
        return
    built: dict[tuple, object] = {}

    def _compile_builder(self, append_unknown: bool = True):
        if self.defaults:
            return compile_builder(self, append_unknown)
        key = (self.rule, tuple(self._trace), append_unknown)
        builder = built.get(key)
        if builder is None:
            builder = built[key] = compile_builder(self, append_unknown)
        return builder

    _compile_builder.reused = True
    Rule._compile_builder = _compile_builder
