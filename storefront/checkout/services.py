"""Checkout use cases other than placing the order: reading it, and changing its details."""

from __future__ import annotations

from dataclasses import replace

from storefront import clock
from storefront.cart import store
from storefront.cart.types import Owner
from storefront.checkout import details as checkout_details
from storefront.checkout import quoting, rules
from storefront.checkout.details import Details
from storefront.database import write
from storefront.errors import (
    BadRequest,
    DomainError,
    EmptyCart,
    InvalidCoupon,
    ShippingUnavailable,
    UnknownShippingMethod,
)

FIELDS = ("email", "address", "phone", "shipping_method", "coupon")


def read(owner: Owner) -> quoting.Checkout:
    return quoting.for_owner(owner)


def _apply_one(details: Details, name: str, value: object, checkout: quoting.Checkout) -> Details:
    match name:
        case "email":
            return replace(details, email=checkout_details.clean_email(value))
        case "phone":
            return replace(details, phone=checkout_details.clean_phone(value))
        case "address":
            return replace(details, address=checkout_details.clean_address(value, details.address))
        case "shipping_method":
            return replace(details, shipping_method=_method(value, details))
        case "coupon":
            return replace(details, coupon=_coupon(value, checkout))
    raise BadRequest(f"Unknown field: {name[:40]}. Allowed: {', '.join(FIELDS)}.")


def _method(value: object, details: Details) -> str:
    if value is None or value == "":
        return ""
    known = {m.id: m for m in rules.shipping_methods()}
    if not isinstance(value, str) or value not in known:
        raise UnknownShippingMethod(
            "That shipping method does not exist; choose one of: " + ", ".join(known) + ".",
            fields=["shipping_method"],
        )
    country = details.address.country
    if country and not known[value].serves(country):
        raise ShippingUnavailable(
            f"{known[value].name} does not deliver to {checkout_details.countries()[country]}.",
            fields=["shipping_method"],
        )
    return value


def _coupon(value: object, checkout: quoting.Checkout) -> str:
    if value is None or value == "":
        return ""
    if not isinstance(value, str):
        raise InvalidCoupon("A coupon code is text.", fields=["coupon"])
    coupon = rules.find_coupon(value) if value.isprintable() else None
    refusal = rules.coupon_refusal(coupon, checkout.quote.subtotal, clock.now())
    if refusal:
        raise InvalidCoupon(refusal, fields=["coupon"])
    return coupon.code


def update(
    owner: Owner, changes: dict[str, object], *, partial: bool = False
) -> tuple[quoting.Checkout, dict[str, DomainError]]:
    """Apply ``changes`` to the checkout's details and keep them with the cart.

    Strict (the API): the first refused field raises and nothing is kept. ``partial`` (the
    page): every acceptable field is kept and each refusal is returned by field, to be shown
    next to it.
    """
    snap = store.read(owner)
    if snap.cart_id is None:
        raise EmptyCart("Your cart is empty: add something before checking out.")
    current = checkout_details.load(snap.cart_id, owner.user_id)
    checkout = quoting.price(snap.cart_id, snap.version, snap.cart, current)
    refused: dict[str, DomainError] = {}
    details = current
    # The address first: the method is checked against the country being set in this call.
    for name in sorted(changes, key=lambda n: n != "address"):
        try:
            details = _apply_one(details, name, changes[name], checkout)
        except DomainError as exc:
            if not partial:
                raise
            refused[name] = exc
    if details != current:
        write(lambda: checkout_details.save(snap.cart_id, details, owner.channel, owner.user_id))
    return quoting.price(snap.cart_id, snap.version, snap.cart, details), refused
