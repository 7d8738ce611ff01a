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
from collections.abc import Callable
from decimal import Decimal
from fractions import Fraction
from functools import cache

from babel.numbers import format_currency, get_currency_precision, is_currency

# The largest amount `parse_amount` accepts: ten billion dollars in cents. A shop's prices and
# thresholds are far below it, and it keeps a typo or a hostile value out of the database.
MAX_AMOUNT = 10**12

# ASCII digits only: Python's int() and `\d` also take "١٢" and "1_000", which a price field must
# not. A leading or trailing dot, a sign, separators and exponents are all refused.
_AMOUNT = re.compile(r"(?P<units>[0-9]+)(?:\.(?P<fraction>[0-9]+))?", re.ASCII)


def minor_digits(currency: str) -> int:
    """How many decimals the currency's amounts have (USD 2, JPY 0, KWD 3)."""
    if not isinstance(currency, str):
        raise ValueError(f"unknown currency {currency!r} (an upper-case ISO 4217 code)")
    return _known_minor_digits(currency)


@cache  # only known codes are kept (a refusal raises): Babel's check builds a set of them all
def _known_minor_digits(currency: str) -> int:
    # Babel answers 2 for any code it does not know; an unknown code is a configuration error.
    if not is_currency(currency):
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
    return _formatter(currency, locale)(amount)


def _babel_format(amount: int, currency: str, locale: str) -> str:
    # Decimal(int).scaleb() is exact; Babel then has no fraction beyond the currency's to round.
    value = Decimal(amount).scaleb(-minor_digits(currency))
    return format_currency(value, currency, locale=locale)


# Amounts the derived formatter must write exactly as Babel does before it is trusted.
_PROBES = (0, 1, 7, 99, 100, 1234, 99999, 100000, 1234567, 123456789, 10**12, -1, -123456)


@cache
def _formatter(currency: str, locale: str) -> Callable[[int], str]:
    """Babel takes about 0.2 ms per amount, and a cart page shows hundreds. Its output for one
    probe amount gives the locale's prefix, suffix, separators and grouping; a formatter built
    from them is kept only if it writes every probe exactly as Babel does (non-Latin digits,
    unusual patterns: Babel it is)."""
    digits = minor_digits(currency)

    def babel(amount: int) -> str:
        return _babel_format(amount, currency, locale)

    try:
        fast = _derived(babel, digits)
    except ValueError:
        return babel
    probes = [p * 10**digits + (p % 10**digits if digits else 0) for p in _PROBES]
    return fast if all(fast(p) == babel(p) for p in probes) else babel


def _derived(babel: Callable[[int], str], digits: int) -> Callable[[int], str]:
    def parts(text: str) -> tuple[str, str, str]:
        found = re.search(r"[0-9].*[0-9]", text)
        if found is None:
            raise ValueError(f"no digits in {text!r}")
        return text[: found.start()], found.group(), text[found.end() :]

    fraction = "89"[:digits].ljust(digits, "0") if digits else ""
    prefix, number, suffix = parts(babel(int("1234567" + fraction)))
    negative_prefix, _, negative_suffix = parts(babel(-int("1234567" + fraction)))
    decimal = number[-digits - 1] if digits else ""
    whole = number[: -digits - 1] if digits else number
    groups = re.split(r"[^0-9]", whole)
    separator = whole[len(groups[0])] if len(groups) > 1 else ""
    primary = len(groups[-1])
    secondary = len(groups[-2]) if len(groups) > 2 else primary
    scale = 10**digits

    def fast(amount: int) -> str:
        units, cents = divmod(abs(amount), scale)
        text = str(units)
        if separator and len(text) > primary:
            head, tail = text[:-primary], [text[-primary:]]
            while len(head) > secondary:
                head, tail = head[:-secondary], [head[-secondary:], *tail]
            text = separator.join([head, *tail])
        if digits:
            text += decimal + str(cents).rjust(digits, "0")
        if amount < 0:
            return negative_prefix + text + negative_suffix
        return prefix + text + suffix

    return fast


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
