"""Templates that begin with ``{#- compact -#}`` lose, as they are loaded, the line breaks and
indentation between their tags: the layout of the template's source, never its text.

A pushed cart change is such markup (a line, the summary), and every page of the shopper parses
it and walks it against what it shows (static/js/cart/patch.js): a third of its nodes were
whitespace between tags (93 nodes a pushed add, 60 without them; Chromium parsed it in 113 µs
against 74 µs), on the way of every push to another device (issue 10). Their containers lay
their children out as grid or flex items, where text that is only whitespace takes no place,
so the page looks the same. Done once, when the template is compiled: nothing per request.

Only a run of whitespace that holds a line break, between the end of a tag (or of a Jinja
block, comment or expression) and the start of the next, goes: a single space inside a line of
text ("Quantity <span>") is text and stays. A marked template must not rely on a line break
between two pieces of text being shown as a space."""

from __future__ import annotations

import re

from jinja2.ext import Extension

MARK = "{#- compact -#}"
_LAYOUT = re.compile(r"(?:(?<=>)|(?<=[%#}]}))[ \t]*\n\s*(?=<|{[%#{])")


def compact(source: str) -> str:
    return _LAYOUT.sub("", source) if source.startswith(MARK) else source


class CompactMarkup(Extension):
    def preprocess(self, source: str, name: str | None, filename: str | None = None) -> str:
        return compact(source)
