"""Templates marked compact lose the layout whitespace between their tags, never their text."""

from __future__ import annotations

import re

from storefront.compact_markup import MARK, compact


def test_line_breaks_and_indentation_between_tags_and_jinja_blocks_go():
    source = (
        MARK
        + '<li>\n  <div class="a">{{ name }}</div>\n  {% if x %}\n    <span>y</span>\n  {% endif %}\n</li>'
    )
    assert (
        compact(source)
        == MARK + '<li><div class="a">{{ name }}</div>{% if x %}<span>y</span>{% endif %}</li>'
    )


def test_text_and_spaces_within_a_line_stay():
    source = (
        MARK + "<label>Quantity <span>of {{ name }}</span></label>\n"
        "<p>Estimated total {{ total }}\n    ({% if a %}free{% endif %})</p>"
    )
    compacted = compact(source)
    assert "Quantity <span>of {{ name }}</span>" in compacted
    assert "{{ total }}\n    ({% if a %}" in compacted  # a line break between texts is a space


def test_an_unmarked_template_is_left_as_it_is():
    source = "<li>\n  <div>a</div>\n</li>"
    assert compact(source) == source


def test_a_pushed_line_has_no_whitespace_nodes_between_its_tags(app, browser, make_product):
    sku = make_product(name="Compact mug")
    response = browser.form("/cart/lines", {"sku": sku, "quantity": "1"}, htmx=True)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    [line] = re.findall(r'<li id="line-[^"]+" class="cart-line.*?</li>', html, re.S)
    assert not re.search(r">\s+<", line)
    assert "Quantity <span" in line and "Compact mug" in line
    page = browser.page("/cart").get_data(as_text=True)
    [shown] = re.findall(r'<li id="line-[^"]+" class="cart-line.*?</li>', page, re.S)
    assert not re.search(r">\s+<", shown)  # the page's row has the same shape as the pushed one
