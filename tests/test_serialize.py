"""The API's JSON shapes, written by hand where a large cart needs it fast."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from storefront.api.serialize import line_json, line_json_text
from storefront.cart.views import LineView

# As the app's jsonify writes outside debug mode (storefront/__init__.py: keys unsorted).
ENCODER = json.JSONEncoder(ensure_ascii=True, sort_keys=False, separators=(",", ":"))
words = st.text(max_size=40)  # any code point: quotes, backslashes, controls, emoji, surrogates


@given(
    line_id=words,
    sku=words,
    name=words,
    quantity=st.integers(min_value=0, max_value=10**9),
    options=st.dictionaries(words, words, max_size=4),
    unit_cents=st.integers(min_value=-(10**12), max_value=10**12),
    available=st.booleans(),
)
def test_a_line_written_by_hand_is_what_jsonify_writes(
    line_id, sku, name, quantity, options, unit_cents, available
):
    line = LineView(line_id, sku, name, quantity, options, unit_cents, available, 0)
    written = line_json_text(line, ENCODER.encode)
    assert written == ENCODER.encode(line_json(line))
    assert json.loads(written) == line_json(line)
