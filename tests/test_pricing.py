"""The money layer: pure functions, so no app and no database."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, localcontext

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from storefront.money import (
    MAX_AMOUNT,
    format_money,
    minor_digits,
    parse_amount,
    percent_of,
    to_decimal_text,
)

# -- money ----------------------------------------------------------------------------------------


def test_minor_digits_come_from_cldr():
    assert (minor_digits("USD"), minor_digits("JPY"), minor_digits("KWD")) == (2, 0, 3)
    with pytest.raises(ValueError):
        minor_digits("usd")


@pytest.mark.parametrize(
    ("amount", "currency", "text"),
    [
        (4197, "USD", "41.97"),
        (5, "USD", "0.05"),
        (0, "USD", "0.00"),
        (-420, "USD", "-4.20"),
        (-5, "USD", "-0.05"),
        (4197, "JPY", "4197"),
        (-4197, "JPY", "-4197"),
        (1234567, "KWD", "1234.567"),
        (5, "BHD", "0.005"),
    ],
)
def test_to_decimal_text(amount, currency, text):
    assert to_decimal_text(amount, currency) == text


@pytest.mark.parametrize(
    ("text", "currency", "amount"),
    [
        ("12.5", "USD", 1250),
        ("12.50", "USD", 1250),
        ("12", "USD", 1200),
        (" 0.05 ", "USD", 5),
        ("4197", "JPY", 4197),
        ("1.5", "KWD", 1500),
        ("1234.567", "KWD", 1234567),
        ("0.005", "BHD", 5),
        ("10000000000.00", "USD", MAX_AMOUNT),
    ],
)
def test_parse_amount(text, currency, amount):
    assert parse_amount(text, currency) == amount


@pytest.mark.parametrize(
    ("text", "currency", "message"),
    [
        ("", "USD", "empty"),
        ("abc", "USD", "not an amount"),
        ("NaN", "USD", "not a number"),
        ("inf", "USD", "not a number"),
        ("-Infinity", "USD", "not a number"),
        ("1e3", "USD", "exponent"),
        ("1E-2", "USD", "exponent"),
        ("-5", "USD", "negative"),
        ("12.345", "USD", "2 decimal places"),
        ("12.5", "JPY", "no decimal places"),
        ("1.2345", "KWD", "3 decimal places"),
        ("1,000.00", "USD", "separators"),
        ("12,50", "USD", "separators"),
        ("1_000", "USD", "separators"),
        ("1 000", "USD", "separators"),
        ("+5", "USD", "not an amount"),
        (".5", "USD", "not an amount"),
        ("5.", "USD", "not an amount"),
        ("1.2.3", "USD", "not an amount"),
        ("0x10", "USD", "not an amount"),
        ("١٢", "USD", "not an amount"),
        ("12\n5", "USD", "not an amount"),
        ("10000000000.01", "USD", "too large"),
        ("9" * 33, "USD", "too long"),
        ("1", "XYZ", "unknown currency"),
    ],
)
def test_parse_amount_refuses_hostile_input(text, currency, message):
    with pytest.raises(ValueError, match=message):
        parse_amount(text, currency)


@pytest.mark.parametrize("value", [12.5, 1250, None, b"12.50"])
def test_parse_amount_refuses_what_is_not_text(value):
    with pytest.raises(ValueError, match="must be text"):
        parse_amount(value, "USD")


@pytest.mark.parametrize(
    ("amount", "currency", "locale", "text"),
    [
        (4197, "USD", "en_US", "$41.97"),
        (-420, "USD", "en_US", "-$4.20"),
        (123456789, "USD", "en_US", "$1,234,567.89"),
        (4197, "EUR", "de_DE", "41,97\xa0€"),
        (123456789, "EUR", "de_DE", "1.234.567,89\xa0€"),
        (4197, "JPY", "en_US", "¥4,197"),
        (1234567, "KWD", "en_US", "KWD1,234.567"),
    ],
)
def test_format_money(amount, currency, locale, text):
    assert format_money(amount, currency, locale) == text


def test_format_money_is_exact_where_a_float_would_not_be():
    # 0.1 + 0.2 style drift cannot happen: the int is scaled as a Decimal.
    assert format_money(2**53 + 1, "USD", "en_US") == "$90,071,992,547,409.93"


def test_percent_of_rounds_half_up_once():
    assert percent_of(4197, Decimal(10)) == 420  # 419.7
    assert percent_of(4195, Decimal(10)) == 420  # 419.5: the tie goes up
    assert percent_of(4194, Decimal(10)) == 419  # 419.4
    assert percent_of(5, Decimal(10)) == 1  # 0.5
    assert percent_of(-4195, Decimal(10)) == -420  # ties away from zero, as ROUND_HALF_UP
    assert percent_of(1000, Decimal("7.25")) == 73  # 72.5
    with pytest.raises(TypeError):
        percent_of(100, 0.1)
    with pytest.raises(ValueError):
        percent_of(100, Decimal("Infinity"))


# -- properties of money --------------------------------------------------------------------------

PROPERTIES = settings(max_examples=200, deadline=None)
percents = st.decimals(min_value=0, max_value=100, places=3, allow_nan=False, allow_infinity=False)
currencies = st.sampled_from(["USD", "EUR", "JPY", "KWD"])


@PROPERTIES
@given(st.integers(min_value=-(10**15), max_value=10**15), percents)
def test_percent_of_is_decimal_round_half_up(amount, percent):
    with localcontext(prec=60):
        expected = (Decimal(amount) * percent / 100).quantize(Decimal(1), ROUND_HALF_UP)
    assert percent_of(amount, percent) == int(expected)


@PROPERTIES
@given(st.integers(min_value=0, max_value=MAX_AMOUNT), currencies)
def test_decimal_text_round_trips(amount, currency):
    assert parse_amount(to_decimal_text(amount, currency), currency) == amount
