"""The one pricing pipeline: the checkout's live totals and the order's totals both come from
`quote()`, so an order always carries exactly the totals the shopper was shown.

Pure functions over frozen values: no Flask request, no database. Amounts are ints in the
currency's minor unit; rounding follows the one rule in `storefront.money`.

The pipeline, in order:
1. subtotal = Σ quantity × unit_price.
2. discount, from the coupon, on the goods only; never more than the subtotal.
3. shipping: 0 without a method, with a free-shipping coupon, or once the subtotal after the
   discount (and before tax) reaches the method's `free_from`; otherwise its price.
4. tax, on the goods after the discount, plus shipping when the rule taxes it. With prices that
   exclude tax it is added on top; with prices that include it, `tax` is 0 and `tax_included`
   is the share of the total that is tax.
5. total = subtotal − discount + shipping + tax.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Literal

from storefront import money

MINIMUM_NOT_REACHED = "minimum_not_reached"


def _check_amount(name: str, value: int) -> None:
    # bool is an int to Python, and a float price would smuggle in binary rounding.
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int in minor units, not {type(value).__name__}")
    if value < 0:
        raise ValueError(f"{name} cannot be negative ({value})")


def _check_percent(name: str, value: Decimal, *, most: int | None = None) -> None:
    if isinstance(value, bool) or not isinstance(value, Decimal | int):
        raise TypeError(f"{name} must be a Decimal, not {type(value).__name__}")
    if isinstance(value, Decimal) and not value.is_finite():
        raise ValueError(f"{name} must be a finite number, not {value}")
    if value < 0 or (most is not None and value > most):
        raise ValueError(f"{name} must be between 0 and {most if most is not None else '∞'}")


@dataclass(frozen=True)
class PricedLine:
    sku: str
    quantity: int
    unit_price: int  # minor units, the price when the line was quoted

    def __post_init__(self) -> None:
        if not self.sku:
            raise ValueError("a line needs a sku")
        _check_amount("quantity", self.quantity)
        if self.quantity < 1:
            raise ValueError("a line's quantity is at least 1")
        _check_amount("unit_price", self.unit_price)

    @property
    def line_total(self) -> int:
        return self.quantity * self.unit_price


@dataclass(frozen=True)
class ShippingRule:
    """A shipping method. `free_from` is compared with the subtotal AFTER discounts and BEFORE
    tax (and before shipping itself): a coupon that takes the cart under the threshold makes
    shipping due again, and tax never pushes a cart over it."""

    id: str
    name: str
    price: int
    free_from: int | None = None  # minor units; reaching it exactly is enough
    countries: frozenset[str] | None = None  # ISO 3166-1 alpha-2; None = every country
    needs_address: bool = True  # `pickup` needs no street address

    def __post_init__(self) -> None:
        _check_amount("price", self.price)
        if self.free_from is not None:
            _check_amount("free_from", self.free_from)
        if self.countries is not None:
            # Any iterable in, a hashable upper-case set stored: "us" and "US" are one country.
            object.__setattr__(self, "countries", frozenset(c.upper() for c in self.countries))

    def serves(self, country: str) -> bool:
        return self.countries is None or country.upper() in self.countries


@dataclass(frozen=True)
class TaxRule:
    country: str | None  # None = every country (the demo's 10 % rate)
    region: str | None  # None = the whole country
    percent: Decimal
    on_shipping: bool

    def __post_init__(self) -> None:
        _check_percent("percent", self.percent)
        if self.region and not self.country:
            raise ValueError("a tax rule for a region names its country")


@dataclass(frozen=True)
class CouponRule:
    """What a coupon takes off. Whether it may be used (expired, used up, the minimum not
    reached) is the caller's to decide before quoting; `coupon_refusal` answers the minimum."""

    code: str
    kind: Literal["percent", "fixed", "free_shipping"]
    percent: Decimal = Decimal(0)  # kind "percent"
    amount: int = 0  # kind "fixed", minor units
    min_subtotal: int = 0  # compared with the subtotal before any discount

    def __post_init__(self) -> None:
        if self.kind not in ("percent", "fixed", "free_shipping"):
            raise ValueError(f"unknown coupon kind {self.kind!r}")
        _check_percent("percent", self.percent, most=100)
        _check_amount("amount", self.amount)
        _check_amount("min_subtotal", self.min_subtotal)


@dataclass(frozen=True)
class Quote:
    currency: str
    subtotal: int
    discount: int
    shipping: int
    tax: int  # added on top of the prices; 0 when prices include tax
    tax_included: int  # the tax inside the total when prices include it; else 0
    total: int
    lines: tuple[PricedLine, ...]
    prices_include_tax: bool = False  # decides whether as_json shows tax_included

    def as_json(self) -> dict[str, str]:
        """The totals as the JSON API shows them: decimal text, exact to the minor unit."""
        names = ["subtotal", "discount", "shipping", "tax", "total"]
        if self.prices_include_tax:
            names.append("tax_included")
        return {name: money.to_decimal_text(getattr(self, name), self.currency) for name in names}


def pick_tax_rule(rules: Iterable[TaxRule], country: str, region: str | None) -> TaxRule | None:
    """The most specific rule for the address: country and region, then the country alone,
    then an every-country rule. Among equally specific rules the first given wins."""
    country = (country or "").upper()
    region = (region or "").casefold()
    by_country = any_country = None
    for rule in rules:
        if rule.country is None:
            any_country = any_country or rule
        elif rule.country.upper() != country:
            continue
        elif not rule.region:
            by_country = by_country or rule
        elif region and rule.region.casefold() == region:
            return rule
    return by_country or any_country


def coupon_refusal(coupon: CouponRule, subtotal: int) -> str | None:
    """Why this coupon cannot apply to a cart with this subtotal (a reason code), or None."""
    if subtotal < coupon.min_subtotal:
        return MINIMUM_NOT_REACHED
    return None


def quote(
    lines: Iterable[PricedLine],
    *,
    currency: str,
    shipping: ShippingRule | None,
    tax: TaxRule | None,
    coupon: CouponRule | None,
    prices_include_tax: bool,
) -> Quote:
    """Price the lines. Applies exactly what it is given: picking the shipping method, the tax
    rule and an acceptable coupon is the caller's job."""
    money.minor_digits(currency)  # an unknown currency fails here, not when shown
    lines = tuple(lines)
    subtotal = sum(line.line_total for line in lines)

    discount = 0
    if coupon is not None and coupon.kind == "percent":
        discount = money.percent_of(subtotal, coupon.percent)
    elif coupon is not None and coupon.kind == "fixed":
        discount = coupon.amount
    discount = min(discount, subtotal)
    goods = subtotal - discount

    shipping_due = 0
    if shipping is not None:
        free = (coupon is not None and coupon.kind == "free_shipping") or (
            shipping.free_from is not None and goods >= shipping.free_from
        )
        shipping_due = 0 if free else shipping.price

    tax_added = tax_included = 0
    if tax is not None:
        taxable = goods + (shipping_due if tax.on_shipping else 0)
        if prices_include_tax:
            # The tax inside a gross amount is what is left after taking out the net part; the
            # net part is the one computed amount, so it alone is rounded.
            net = money.round_half_up(Fraction(taxable) * 100 / (100 + Fraction(tax.percent)))
            tax_included = taxable - net
        else:
            tax_added = money.percent_of(taxable, tax.percent)

    return Quote(
        currency=currency,
        subtotal=subtotal,
        discount=discount,
        shipping=shipping_due,
        tax=tax_added,
        tax_included=tax_included,
        total=goods + shipping_due + tax_added,
        lines=lines,
        prices_include_tax=prices_include_tax,
    )
