"""The money layer and the pricing pipeline: pure functions, so no app and no database."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, localcontext

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from storefront import money
from storefront.checkout.pricing import (
    CouponRule,
    PricedLine,
    ShippingRule,
    TaxRule,
    coupon_refusal,
    pick_tax_rule,
    quote,
)
from storefront.money import (
    MAX_AMOUNT,
    format_money,
    minor_digits,
    parse_amount,
    percent_of,
    to_decimal_text,
)

# The demo's rules, as CONTRACT.md describes them.
STANDARD = ShippingRule(id="standard", name="Standard", price=500, free_from=5000)
PICKUP = ShippingRule(id="pickup", name="Pickup", price=0, needs_address=False)
TEN_PERCENT = TaxRule(country=None, region=None, percent=Decimal(10), on_shipping=True)
WELCOME10 = CouponRule(code="WELCOME10", kind="percent", percent=Decimal(10))


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


def priced(*lines: tuple[int, int], **options):
    options = {
        "currency": "USD",
        "shipping": None,
        "tax": None,
        "coupon": None,
        "prices_include_tax": False,
    } | options
    return quote([PricedLine(f"SKU-{i}", q, p) for i, (q, p) in enumerate(lines)], **options)


# -- the pipeline, case by case -------------------------------------------------------------------


def test_the_contracts_worked_example_comes_out_exactly():
    q = priced((3, 1399), shipping=STANDARD, tax=TEN_PERCENT, coupon=WELCOME10)
    assert (q.subtotal, q.discount, q.shipping, q.tax, q.total) == (4197, 420, 500, 428, 4705)
    assert q.tax_included == 0
    assert q.as_json() == {
        "subtotal": "41.97",
        "discount": "4.20",
        "shipping": "5.00",
        "tax": "4.28",
        "total": "47.05",
    }


def test_tax_inclusive_prices_show_the_tax_inside_the_total():
    q = priced(
        (3, 1399), shipping=STANDARD, tax=TEN_PERCENT, coupon=WELCOME10, prices_include_tax=True
    )
    # taxable 3777 + 500 = 4277; net = 4277 × 100 / 110 = 3888.18… → 3888; tax inside 389.
    assert (q.subtotal, q.discount, q.shipping, q.tax, q.total) == (4197, 420, 500, 0, 4277)
    assert q.tax_included == 389
    assert q.as_json() == {
        "subtotal": "41.97",
        "discount": "4.20",
        "shipping": "5.00",
        "tax": "0.00",
        "total": "42.77",
        "tax_included": "3.89",
    }


def test_tax_included_is_shown_even_when_it_is_zero():
    q = priced((1, 1000), prices_include_tax=True)
    assert q.as_json()["tax_included"] == "0.00"


def test_tax_not_on_shipping_leaves_shipping_untaxed():
    rule = TaxRule(country=None, region=None, percent=Decimal(10), on_shipping=False)
    q = priced((1, 1000), shipping=STANDARD, tax=rule)
    assert (q.shipping, q.tax, q.total) == (500, 100, 1600)


@pytest.mark.parametrize(("goods", "shipping"), [(4999, 500), (5000, 0), (5001, 0)])
def test_free_shipping_from_the_threshold_inclusive(goods, shipping):
    assert priced((1, goods), shipping=STANDARD).shipping == shipping


def test_the_threshold_is_compared_after_the_discount_and_before_tax():
    # 5500 − 10 % = 4950: under 5000 again, so shipping is due, though tax would lift it over.
    q = priced((1, 5500), shipping=STANDARD, tax=TEN_PERCENT, coupon=WELCOME10)
    assert (q.discount, q.shipping) == (550, 500)


def test_a_fixed_coupon_larger_than_the_subtotal_takes_off_the_subtotal_only():
    big = CouponRule(code="BIG", kind="fixed", amount=10_000)
    q = priced((2, 1399), shipping=STANDARD, tax=TEN_PERCENT, coupon=big)
    assert q.discount == q.subtotal == 2798
    assert (q.shipping, q.tax, q.total) == (500, 50, 550)  # shipping still due, and taxed


def test_a_free_shipping_coupon_frees_shipping_and_nothing_else():
    free = CouponRule(code="SHIPFREE", kind="free_shipping")
    q = priced((1, 1000), shipping=STANDARD, tax=TEN_PERCENT, coupon=free)
    assert (q.subtotal, q.discount, q.shipping, q.tax, q.total) == (1000, 0, 0, 100, 1100)


def test_no_shipping_method_and_pickup_cost_nothing():
    assert priced((1, 1000)).shipping == 0
    assert priced((1, 1000), shipping=PICKUP).shipping == 0


def test_an_empty_cart_has_nothing_to_discount_but_shipping_is_still_priced():
    q = priced(shipping=STANDARD, tax=TEN_PERCENT, coupon=WELCOME10)
    assert (q.subtotal, q.discount, q.tax, q.total) == (0, 0, 50, 550)


def test_coupon_minimum_is_refused_by_the_helper_not_by_quote():
    coupon = CouponRule(code="BIGSPENDER", kind="fixed", amount=500, min_subtotal=5000)
    assert coupon_refusal(coupon, 4999) == "minimum_not_reached"
    assert coupon_refusal(coupon, 5000) is None
    assert priced((1, 1000), coupon=coupon).discount == 500  # quote applies what it is given


def test_shipping_rule_serves_its_countries():
    eu = ShippingRule(id="eu", name="EU", price=900, countries=["de", "FR"])
    assert eu.serves("DE") and eu.serves("fr") and not eu.serves("US")
    assert STANDARD.serves("JP")


def test_the_most_specific_tax_rule_wins():
    anywhere = TEN_PERCENT
    germany = TaxRule(country="DE", region=None, percent=Decimal(19), on_shipping=True)
    california = TaxRule(country="US", region="CA", percent=Decimal("7.25"), on_shipping=False)
    us = TaxRule(country="US", region=None, percent=Decimal(0), on_shipping=False)
    rules = [anywhere, california, us, germany]
    assert pick_tax_rule(rules, "US", "CA") is california
    assert pick_tax_rule(rules, "us", "ca") is california
    assert pick_tax_rule(rules, "US", "NY") is us
    assert pick_tax_rule(rules, "US", None) is us
    assert pick_tax_rule(rules, "DE", "BY") is germany
    assert pick_tax_rule(rules, "FR", "") is anywhere
    assert pick_tax_rule([california], "US", "NY") is None
    assert pick_tax_rule([], "US", "CA") is None


@pytest.mark.parametrize(
    "make",
    [
        lambda: PricedLine("A", 0, 100),
        lambda: PricedLine("A", 1, -1),
        lambda: PricedLine("A", 1, 9.99),
        lambda: CouponRule(code="X", kind="percent", percent=Decimal(101)),
        lambda: CouponRule(code="X", kind="percent", percent=Decimal("NaN")),
        lambda: CouponRule(code="X", kind="fixed", amount=-5),
        lambda: CouponRule(code="X", kind="bogus"),
        lambda: TaxRule(country=None, region=None, percent=Decimal(-1), on_shipping=True),
        lambda: TaxRule(country=None, region=None, percent=0.1, on_shipping=True),
        lambda: TaxRule(country=None, region="CA", percent=Decimal(1), on_shipping=True),
        lambda: ShippingRule(id="s", name="S", price=-1),
    ],
)
def test_rules_that_would_make_a_negative_or_inexact_amount_cannot_be_built(make):
    with pytest.raises((ValueError, TypeError)):
        make()


def test_an_unknown_currency_is_refused_at_quote_time():
    with pytest.raises(ValueError, match="unknown currency"):
        priced((1, 100), currency="XYZ")


# -- properties of the pipeline -------------------------------------------------------------------

amounts = st.integers(min_value=0, max_value=10**9)
lines_ = st.lists(
    st.builds(
        PricedLine,
        sku=st.text(min_size=1, max_size=8),
        quantity=st.integers(min_value=1, max_value=1000),
        unit_price=st.integers(min_value=0, max_value=10**7),
    ),
    max_size=6,
)
shipping_rules = st.none() | st.builds(
    ShippingRule,
    id=st.just("m"),
    name=st.just("M"),
    price=st.integers(0, 10**5),
    free_from=st.none() | st.integers(0, 10**7),
)
tax_rules = st.none() | st.builds(
    TaxRule,
    country=st.none(),
    region=st.none(),
    percent=st.decimals(min_value=0, max_value=50, places=4, allow_nan=False, allow_infinity=False),
    on_shipping=st.booleans(),
)
coupons = st.none() | st.one_of(
    st.builds(CouponRule, code=st.just("P"), kind=st.just("percent"), percent=percents),
    st.builds(CouponRule, code=st.just("F"), kind=st.just("fixed"), amount=amounts),
    st.builds(CouponRule, code=st.just("S"), kind=st.just("free_shipping")),
)


def quote_from(lines, currency, shipping, tax, coupon, inclusive):
    return quote(
        lines,
        currency=currency,
        shipping=shipping,
        tax=tax,
        coupon=coupon,
        prices_include_tax=inclusive,
    )


@PROPERTIES
@given(lines_, currencies, shipping_rules, tax_rules, coupons, st.booleans())
def test_quote_properties(lines, currency, shipping, tax, coupon, inclusive):
    q = quote_from(lines, currency, shipping, tax, coupon, inclusive)
    assert q.total == q.subtotal - q.discount + q.shipping + q.tax
    assert min(q.subtotal, q.discount, q.shipping, q.tax, q.tax_included, q.total) >= 0
    assert q.discount <= q.subtotal
    assert q.subtotal == sum(line.quantity * line.unit_price for line in lines)
    if inclusive:
        assert q.tax == 0
        assert q.tax_included <= q.total
    else:
        assert q.tax_included == 0
    # The order is placed from a fresh quote of the same inputs: it must equal the one shown.
    assert quote_from(lines, currency, shipping, tax, coupon, inclusive) == q
    text = q.as_json()
    assert all(parse_amount(text[key], currency) == getattr(q, key) for key in text)


@settings(max_examples=300, deadline=None)
@given(
    amount=st.integers(min_value=-(10**12), max_value=10**12),
    place=st.sampled_from(
        [
            ("USD", "en_US"),
            ("EUR", "de_DE"),
            ("JPY", "ja_JP"),
            ("INR", "en_IN"),
            ("KWD", "ar_KW"),
            ("CHF", "de_CH"),
            ("EUR", "fr_FR"),
            ("GBP", "en_GB"),
        ]
    ),
)
def test_the_fast_money_formatter_writes_exactly_what_babel_writes(amount, place):
    currency, locale = place
    assert money.format_money(amount, currency, locale) == money._babel_format(
        amount, currency, locale
    )
