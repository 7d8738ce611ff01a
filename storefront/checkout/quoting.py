"""The checkout as the shopper sees it: the cart's lines at today's prices, the methods that
serve their country, the coupon, the totals from the one pricing pipeline, and what stands in
the way of an order, in words."""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app

from storefront import clock
from storefront.cart import store
from storefront.cart.state import Cart
from storefront.cart.types import Owner
from storefront.catalog.services import by_skus
from storefront.checkout import details as checkout_details
from storefront.checkout import rules
from storefront.checkout.details import Details
from storefront.checkout.pricing import (
    CouponRule,
    PricedLine,
    Quote,
    ShippingRule,
    pick_tax_rule,
    quote,
)


@dataclass(frozen=True)
class Problem:
    code: str
    message: str
    sku: str | None = None
    field: str | None = None  # the form field it concerns

    def as_json(self) -> dict:
        return {k: v for k, v in vars(self).items() if v is not None and k != "field"}


@dataclass(frozen=True)
class QuotedLine:
    line_id: str
    product_id: int
    sku: str
    name: str
    options: tuple[tuple[str, str], ...]
    quantity: int
    unit_price: int
    line_total: int


@dataclass(frozen=True)
class Checkout:
    cart_id: int | None
    cart_version: int
    currency: str
    details: Details
    lines: tuple[QuotedLine, ...]
    methods: tuple[ShippingRule, ...]  # those serving the shopper's country (all if none yet)
    method: ShippingRule | None
    coupon: CouponRule | None
    quote: Quote
    problems: tuple[Problem, ...]

    def problems_with(self, *codes: str) -> list[Problem]:
        return [p for p in self.problems if p.code in codes]


def for_owner(owner: Owner) -> Checkout:
    snap = store.read(owner)
    details = checkout_details.load(snap.cart_id, owner.user_id)
    return price(snap.cart_id, snap.version, snap.cart, details)


def price(cart_id: int | None, version: int, cart: Cart, details: Details) -> Checkout:
    config = current_app.config
    products = by_skus(line.sku for line in cart.lines)
    problems: list[Problem] = []
    lines = []
    for line in cart.lines:
        product = products.get(line.sku)
        if product is None or not product.active:
            name = product.name if product else line.sku
            problems.append(
                Problem(
                    "unavailable", f"{name} is no longer sold; remove it to continue.", line.sku
                )
            )
            continue
        if line.quantity > product.stock:
            left = f"only {product.stock} left" if product.stock > 0 else "sold out"
            problems.append(
                Problem("out_of_stock", f"{product.name}: {left}; lower the quantity.", line.sku)
            )
        lines.append(
            QuotedLine(
                line.id,
                product.id,
                product.sku,
                product.name,
                line.options,
                line.quantity,
                product.price_cents,
                product.price_cents * line.quantity,
            )
        )
    country, region = details.address.country, details.address.region
    every_method = rules.shipping_methods()
    methods = tuple(m for m in every_method if not country or m.serves(country))
    method = next((m for m in every_method if m.id == details.shipping_method), None)
    if method is not None and country and not method.serves(country):
        problems.append(
            Problem(
                "shipping_unavailable",
                f"{method.name} does not deliver to {checkout_details.countries()[country]}; "
                "choose another method.",
                field="shipping_method",
            )
        )
        method = None
    if method is None and methods:
        method = methods[0]  # the first method on offer, until the shopper picks one
    priced = tuple(PricedLine(q.sku, q.quantity, q.unit_price) for q in lines)
    subtotal = sum(q.line_total for q in lines)
    coupon = None
    if details.coupon:
        row = rules.find_coupon(details.coupon)
        refusal = rules.coupon_refusal(row, subtotal, clock.now())
        if refusal:
            problems.append(Problem("invalid_coupon", refusal, field="coupon"))
        else:
            coupon = rules.as_rule(row)
    totals = quote(
        priced,
        currency=config["CURRENCY"],
        shipping=method,
        tax=pick_tax_rule(rules.tax_rules(), country, region),
        coupon=coupon,
        prices_include_tax=config["PRICES_INCLUDE_TAX"],
    )
    return Checkout(
        cart_id,
        version,
        config["CURRENCY"],
        details,
        tuple(lines),
        methods,
        method,
        coupon,
        totals,
        tuple(problems),
    )


def estimate(subtotal: int) -> Quote | None:
    """The cart page's estimate of the total: the first shipping method and the every-country
    tax on this subtotal, through the same pipeline as the checkout."""
    if subtotal <= 0:
        return None
    method, tax = rules.estimate_rules()
    config = current_app.config
    return quote(
        (PricedLine("cart", 1, subtotal),),
        currency=config["CURRENCY"],
        shipping=method,
        tax=tax,
        coupon=None,
        prices_include_tax=config["PRICES_INCLUDE_TAX"],
    )
