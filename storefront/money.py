"""Exact money: every amount is an int in the currency's minor unit (cents for USD, yen for JPY,
fils for KWD), the way the catalog stores `price_cents`. Floats never touch an amount.

THE rounding rule, the only one in the shop: a computed amount (a percentage of an amount, or
the net part of a tax-inclusive amount) is rounded once, to the minor unit, half up
(`decimal.ROUND_HALF_UP`: ties go away from zero, so 419.5 → 420 and -419.5 → -420). It is
applied to each computed amount exactly once and never to a sum of already rounded amounts, so
`total = subtotal − discount + shipping + tax` holds to the minor unit.

How many minor digits a currency has is CLDR's answer (through Babel), not a table of ours.
"""

from __future__ import annotations

import re
from decimal import Decimal
from fractions import Fraction

from babel.numbers import format_currency, get_currency_precision, is_currency

# The largest amount `parse_amount` accepts: ten billion dollars in cents. A shop's prices and
# thresholds are far below it, and it keeps a typo or a hostile value out of the database.
MAX_AMOUNT = 10**12

# ASCII digits only: Python's int() and `\d` also take "١٢" and "1_000", which a price field must
# not. A leading or trailing dot, a sign, separators and exponents are all refused.
_AMOUNT = re.compile(r"(?P<units>[0-9]+)(?:\.(?P<fraction>[0-9]+))?", re.ASCII)


def minor_digits(currency: str) -> int:
    """How many decimals the currency's amounts have (USD 2, JPY 0, KWD 3)."""
    # Babel answers 2 for any code it does not know; an unknown code is a configuration error.
    if not isinstance(currency, str) or not is_currency(currency):
        raise ValueError(f"unknown currency {currency!r} (an upper-case ISO 4217 code)")
    return get_currency_precision(currency)


def to_decimal_text(amount: int, currency: str) -> str:
    """The amount as a plain decimal number, as the JSON API shows it: 4197 USD → "41.97"."""
    digits = minor_digits(currency)
    sign = "-" if amount < 0 else ""
    units, fraction = divmod(abs(amount), 10**digits)
    if digits == 0:
        return f"{sign}{units}"
    return f"{sign}{units}.{fraction:0{digits}d}"


def parse_amount(text: str, currency: str) -> int:
    """Read an amount a person or client typed ("12", "12.5", "12.50") into minor units.

    Strict on purpose: what is not plainly a non-negative amount in this currency is refused
    with a message saying why, rather than guessed at.
    """
    digits = minor_digits(currency)
    if not isinstance(text, str):
        # ValueError, not TypeError: a JSON client sending 12.5 is bad input, not a bug here.
        raise ValueError(f'an amount must be text such as "12.50", not {type(text).__name__}')
    text = text.strip()
    if len(text) > 32:
        raise ValueError("the amount is too long")
    match = _AMOUNT.fullmatch(text)
    if match is None:
        raise ValueError(_why_not_an_amount(text))
    fraction = match["fraction"] or ""
    if len(fraction) > digits:
        places = f"{digits} decimal places" if digits else "no decimal places"
        raise ValueError(f"{currency} amounts have {places}; {text!r} has {len(fraction)}")
    amount = int(match["units"]) * 10**digits + int(fraction.ljust(digits, "0") or 0)
    if amount > MAX_AMOUNT:
        raise ValueError(
            f"the amount is too large (at most {to_decimal_text(MAX_AMOUNT, currency)})"
        )
    return amount


def _why_not_an_amount(text: str) -> str:
    lowered = text.lower()
    if not text:
        return "the amount is empty"
    if any(word in lowered for word in ("nan", "inf")):
        return f"{text!r} is not a number"
    if text.startswith("-"):
        return "the amount cannot be negative"
    if "e" in lowered and any(c.isdigit() for c in text):
        return f"{text!r}: write the amount out in digits, without exponent notation"
    if "," in text or " " in text or "_" in text:
        return f'{text!r}: use digits and one dot for decimals, no separators ("1234.50")'
    return f'{text!r} is not an amount (digits and one dot for decimals, such as "12.50")'


def format_money(amount: int, currency: str, locale: str) -> str:
    """The amount for people to read, as the locale writes it: "$41.97", "41,97 €"."""
    # Decimal(int).scaleb() is exact; Babel then has no fraction beyond the currency's to round.
    value = Decimal(amount).scaleb(-minor_digits(currency))
    return format_currency(value, currency, locale=locale)


def round_half_up(value: Fraction) -> int:
    """THE rounding rule (module docstring) on an exact quotient. Exposed for the one other
    computed amount, the net part of a tax-inclusive price; everything else uses percent_of."""
    magnitude = (abs(value) * 2 + 1) // 2  # floor(|x| + 1/2): ties away from zero
    return int(magnitude) if value >= 0 else -int(magnitude)


def percent_of(amount: int, percent: Decimal) -> int:
    """`percent` % of `amount`, rounded by THE rule: percent_of(4197, Decimal(10)) == 420."""
    # Fraction(Decimal) is exact, so nothing is rounded before the one rounding.
    if isinstance(percent, bool | float) or not isinstance(percent, Decimal | int):
        raise TypeError("a percentage is a Decimal or an int, never a float")
    if isinstance(percent, Decimal) and not percent.is_finite():
        raise ValueError(f"{percent} is not a percentage")
    return round_half_up(Fraction(amount) * Fraction(percent) / 100)
