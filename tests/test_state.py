"""The pure cart rules: examples first, then properties over random operation sequences."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from storefront.cart import codec
from storefront.cart.state import (
    EMPTY,
    AddLine,
    Cart,
    Clear,
    Limits,
    Line,
    LineIdTaken,
    MergeIn,
    RemoveLine,
    Replace,
    SetQuantity,
    apply,
    merge,
    replay,
)
from storefront.errors import InvalidQuantity, LineLimit, NotFound, OutOfStock, QuantityLimit

SKUS = ["A", "B", "C", "D"]
REFUSED = (InvalidQuantity, QuantityLimit, OutOfStock, LineLimit, NotFound, LineIdTaken)
LIMITS = Limits(max_lines=3, max_line_quantity=10, stock={"A": 100, "B": 5, "C": 100, "D": 0})


def add(line_id, sku, quantity, options=()):
    return AddLine(line_id, sku, quantity, options)


def test_adding_the_same_sku_and_options_grows_one_line():
    cart = apply(EMPTY, add("1", "A", 2), LIMITS)
    cart = apply(cart, add("2", "A", 3), LIMITS)
    assert cart.lines == (Line("1", "A", 5),)


def test_different_options_make_different_lines():
    cart = apply(EMPTY, add("1", "A", 1, (("size", "M"),)), LIMITS)
    cart = apply(cart, add("2", "A", 1, (("size", "L"),)), LIMITS)
    assert [line.id for line in cart.lines] == ["1", "2"]


def test_add_refuses_above_the_line_quantity_limit_and_changes_nothing():
    cart = apply(EMPTY, add("1", "A", 9), LIMITS)
    with pytest.raises(QuantityLimit):
        apply(cart, add("2", "A", 2), LIMITS)
    assert cart.lines == (Line("1", "A", 9),)


def test_add_refuses_above_stock_and_for_sold_out_products():
    with pytest.raises(OutOfStock, match="Only 5"):
        apply(EMPTY, add("1", "B", 6), LIMITS)
    with pytest.raises(OutOfStock, match="out of stock"):
        apply(EMPTY, add("1", "D", 1), LIMITS)


def test_a_new_line_beyond_max_lines_is_refused_but_an_existing_line_may_grow():
    cart = replay(EMPTY, [add("1", "A", 1), add("2", "B", 1), add("3", "C", 1)])
    with pytest.raises(LineLimit):
        apply(cart, add("4", "A", 1, (("x", "y"),)), LIMITS)
    assert apply(cart, add("5", "A", 1), LIMITS).line("1").quantity == 2


@pytest.mark.parametrize("quantity", [0, -1, 1.5, True, "2", None])
def test_add_refuses_quantities_that_are_not_whole_numbers_of_at_least_one(quantity):
    with pytest.raises(InvalidQuantity):
        apply(EMPTY, add("1", "A", quantity), LIMITS)


def test_set_quantity_zero_removes_and_unknown_line_is_not_found():
    cart = apply(EMPTY, add("1", "A", 2), LIMITS)
    assert apply(cart, SetQuantity("1", 0), LIMITS) == EMPTY
    with pytest.raises(NotFound):
        apply(cart, SetQuantity("nope", 1), LIMITS)
    with pytest.raises(NotFound):
        apply(cart, RemoveLine("nope"))


def test_lowering_a_line_is_allowed_even_when_stock_has_shrunk_below_it():
    cart = apply(EMPTY, add("1", "B", 5), LIMITS)
    shrunk = Limits(3, 10, {"B": 1})
    assert apply(cart, SetQuantity("1", 4), shrunk).line("1").quantity == 4
    with pytest.raises(OutOfStock):
        apply(cart, SetQuantity("1", 6), shrunk)


def test_lines_keep_the_order_they_were_first_added_in():
    cart = replay(EMPTY, [add("1", "A", 1), add("2", "B", 1), SetQuantity("1", 4)])
    assert [line.sku for line in cart.lines] == ["A", "B"]


def test_merge_adds_matching_lines_and_clamps_to_stock_and_reports_it():
    account = apply(EMPTY, add("a1", "B", 4), LIMITS)
    guest = replay(EMPTY, [add("g1", "B", 3), add("g2", "C", 2)])
    merged, report = merge(account, guest, LIMITS)
    assert [(line.sku, line.quantity) for line in merged.lines] == [("B", 5), ("C", 2)]
    assert [(a.sku, a.quantity) for a in report.merged] == [("B", 1), ("C", 2)]
    (short,) = report.shortfalls
    assert (short.sku, short.requested, short.kept, short.reason) == ("B", 3, 1, "stock")


def test_merge_respects_max_lines_and_reports_the_lines_left_out():
    account = replay(EMPTY, [add("1", "A", 1), add("2", "B", 1), add("3", "C", 1)])
    guest = apply(EMPTY, add("g", "A", 1, (("size", "M"),)), None)
    merged, report = merge(account, guest, LIMITS)
    assert merged == account
    assert report.shortfalls[0].reason == "line_limit"


# --- properties -------------------------------------------------------------------------------

options = st.sampled_from([(), (("size", "M"),), (("engraving", "Hi"),)])
ops = st.one_of(
    st.builds(
        AddLine,
        st.text("xyz", min_size=1, max_size=3),
        st.sampled_from(SKUS),
        st.integers(-2, 12),
        options,
    ),
    st.builds(SetQuantity, st.text("xyz", min_size=1, max_size=3), st.integers(-1, 12)),
    st.builds(RemoveLine, st.text("xyz", min_size=1, max_size=3)),
    st.just(Clear()),
)
limits = st.builds(
    Limits,
    st.integers(1, 4),
    st.integers(1, 15),
    st.fixed_dictionaries({sku: st.integers(0, 20) for sku in SKUS}),
)


def run(sequence, rules):
    cart = EMPTY
    for op in sequence:
        with contextlib.suppress(*REFUSED):
            cart = apply(cart, op, rules)
    return cart


def assert_invariants(cart: Cart, rules: Limits) -> None:
    assert len(cart.lines) <= rules.max_lines
    assert len({line.key for line in cart.lines}) == len(cart.lines)
    assert len({line.id for line in cart.lines}) == len(cart.lines)
    for line in cart.lines:
        assert 1 <= line.quantity <= rules.max_line_quantity


@given(st.lists(ops, max_size=40), limits)
def test_no_sequence_of_changes_breaks_the_cart_invariants(sequence, rules):
    assert_invariants(run(sequence, rules), rules)


@given(st.lists(ops, max_size=30), limits)
def test_a_refused_change_leaves_the_cart_exactly_as_it_was(sequence, rules):
    cart = EMPTY
    for op in sequence:
        before = cart
        try:
            cart = apply(cart, op, rules)
        except REFUSED:
            assert cart == before


@given(st.lists(ops, max_size=30), st.lists(ops, max_size=30), limits)
def test_merging_keeps_every_unit_that_fits_and_reports_every_unit_that_did_not(a, b, rules):
    account, guest = run(a, rules), run(b, rules)
    merged, report = merge(account, guest, rules)
    assert_invariants(merged, rules)
    for line in guest.lines:
        kept = sum(x.quantity for x in report.merged if (x.sku, x.options) == line.key)
        lost = [s for s in report.shortfalls if (s.sku, s.options) == line.key]
        if kept < line.quantity:
            assert lost and lost[0].requested == line.quantity and lost[0].kept == kept
        else:
            assert not lost
        before = account.line_for(line.key)
        assert merged.line_for(line.key) is None or merged.line_for(line.key).quantity == (
            (before.quantity if before else 0) + kept
        )
    # Replaying the recorded merge op rebuilds exactly the merged cart (history needs this).
    assert apply(account, MergeIn(report.merged)) == merged


@given(st.lists(ops, max_size=40), limits)
def test_replaying_the_accepted_ops_rebuilds_the_same_cart(sequence, rules):
    accepted, cart = [], EMPTY
    for op in sequence:
        try:
            cart = apply(cart, op, rules)
            accepted.append(op)
        except REFUSED:
            pass
    assert replay(EMPTY, accepted) == cart
    decoded = [codec.decode_op(codec.encode_op(op)) for op in accepted]
    assert replay(EMPTY, decoded) == cart
    assert codec.decode_cart(codec.encode_cart(cart)) == cart
    assert apply(EMPTY, Replace(cart.lines)) == cart


@settings(max_examples=25)
@given(st.text(min_size=1, max_size=40))
def test_free_text_options_survive_encoding_exactly(text):
    cart = apply(EMPTY, add("1", "A", 1, (("engraving", text),)), None)
    assert codec.decode_cart(codec.encode_cart(cart)).lines[0].options == (("engraving", text),)


def test_a_new_line_never_takes_the_id_of_another_line():
    cart = apply(EMPTY, add("1", "A", 1), LIMITS)
    with pytest.raises(LineIdTaken):
        apply(cart, add("1", "B", 1), LIMITS)
    merged, _ = merge(cart, apply(EMPTY, add("1", "C", 2), LIMITS), LIMITS)
    assert [(line.sku, line.quantity) for line in merged.lines] == [("A", 1), ("C", 2)]
