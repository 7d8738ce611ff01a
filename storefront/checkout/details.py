"""What the shopper tells the checkout (contact, address, method, coupon): the values, their
rules, and how they are kept with the cart, sealed."""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import asdict, dataclass, field, replace
from functools import cache

from babel import Locale
from sqlalchemy import func, select

from storefront import clock
from storefront.accounts.models import User
from storefront.analytics import events
from storefront.analytics.kinds import EventKind
from storefront.cart import store
from storefront.cart.sealing import aad, keyring
from storefront.checkout.models import CheckoutDetails, PaymentAttempt
from storefront.errors import InvalidAddress, InvalidEmail
from storefront.extensions import db
from storefront.mail.address import is_sendable
from storefront.sharing.store import set_aside_cart_id


def details_cart_id(cart_id: int | None, user_id: int | None) -> int | None:
    """A shared cart's member keeps their own details (with their own cart, set aside while
    they share): they never see the owner's contact or address, nor the owner theirs."""
    return set_aside_cart_id(user_id) or cart_id


ADDRESS_FIELDS = (
    "name",
    "address_line1",
    "address_line2",
    "city",
    "postal_code",
    "region",
    "country",
)
# What a parcel needs; a pickup needs only a name and a country (for the tax).
STREET_FIELDS = ("address_line1", "city", "postal_code")
MAX_FIELD = 200
PHONE = re.compile(r"^\+?[0-9 ()./-]{4,30}$")


# CLDR's two-letter territories that are no place to ship to: groupings (European Union,
# Eurozone, United Nations, Outlying Oceania), pseudo-locales and "Unknown Region".
NOT_PLACES = frozenset({"EU", "EZ", "UN", "QO", "XA", "XB", "ZZ"})


@cache
def countries() -> dict[str, str]:
    """ISO 3166-1 alpha-2 code → English name (CLDR's territories, not its regions), in the
    order a reader looks for them: by name, accents aside ("Åland Islands" among the A's)."""
    names = Locale("en").territories
    codes = [code for code in names if len(code) == 2 and code not in NOT_PLACES]

    def by_name(code: str) -> str:
        decomposed = unicodedata.normalize("NFKD", names[code])
        return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()

    return {code: names[code] for code in sorted(codes, key=by_name)}


@dataclass(frozen=True)
class Address:
    name: str = ""
    address_line1: str = ""
    address_line2: str = ""
    city: str = ""
    postal_code: str = ""
    region: str = ""
    country: str = ""


@dataclass(frozen=True)
class Details:
    email: str = ""
    address: Address = field(default_factory=Address)
    phone: str = ""
    shipping_method: str = ""
    coupon: str = ""

    def missing(self, *, needs_address: bool) -> list[str]:
        """The fields an order still needs, by their form names."""
        needed = ["email", "name", "country"] + (list(STREET_FIELDS) if needs_address else [])
        values = {"email": self.email, **asdict(self.address)}
        return [name for name in needed if not values[name]]


def _clean_text(value: object, label: str, error=InvalidAddress) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise error(f"{label} must be text.", fields=[label])
    value = unicodedata.normalize("NFC", value).strip()
    if len(value) > MAX_FIELD:
        raise error(f"{label} is too long (at most {MAX_FIELD} characters).", fields=[label])
    # Cs: a lone surrogate (JSON's "\ud800") cannot be encoded, so no page or email could show it.
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Cs") for ch in value):
        raise error(f"{label} holds characters that cannot be printed.", fields=[label])
    return value


def clean_email(value: object) -> str:
    email = _clean_text(value, "email", InvalidEmail)
    if email and not is_sendable(email):
        raise InvalidEmail("That email address does not look right.", fields=["email"])
    return email


def clean_phone(value: object) -> str:
    phone = _clean_text(value, "phone")
    if phone and not PHONE.match(phone):
        raise InvalidAddress(
            "A phone number has digits, spaces and + ( ) - only.", fields=["phone"]
        )
    return phone


def clean_address(raw: object, current: Address) -> Address:
    """The address after applying the given fields; fields not given keep their value."""
    if not isinstance(raw, dict):
        raise InvalidAddress("The address must be an object of address fields.", fields=["address"])
    unknown = sorted(set(raw) - set(ADDRESS_FIELDS))
    if unknown:
        raise InvalidAddress(f"Unknown address field(s): {', '.join(unknown)}.", fields=unknown)
    values = {k: _clean_text(v, k) for k, v in raw.items()}
    if "country" in values:
        values["country"] = values["country"].upper()
        if values["country"] and values["country"] not in countries():
            raise InvalidAddress(
                "Choose a country from the list (a two-letter ISO code).", fields=["country"]
            )
    return replace(current, **values)


def load(cart_id: int | None, user_id: int | None = None) -> Details:
    """The details kept with the cart; a signed-in shopper's email is their account's until
    they give another."""
    cart_id = details_cart_id(cart_id, user_id)
    row = None if cart_id is None else db.session.get(CheckoutDetails, cart_id)
    details = Details() if row is None else _opened(row)
    if not details.email and user_id is not None:
        account_email = db.session.scalar(select(User.email).where(User.id == user_id))
        details = replace(details, email=account_email or "")
    return details


def _opened(row: CheckoutDetails) -> Details:
    raw = json.loads(keyring().open(row.sealed, aad("checkout", row.cart_id)))
    return Details(
        email=raw.get("email", ""),
        address=Address(**raw.get("address", {})),
        phone=raw.get("phone", ""),
        shipping_method=raw.get("shipping_method", ""),
        coupon=raw.get("coupon", ""),
    )


def _checkout_started(row: CheckoutDetails | None, cart_id: int) -> bool:
    """Whether the cart's current checkout has begun: details saved since its last order (a
    cart lives on after an order; its next checkout is a new one)."""
    if row is None:
        return False
    last_order = db.session.scalar(
        select(func.max(PaymentAttempt.created_at)).where(
            PaymentAttempt.cart_id == cart_id, PaymentAttempt.status == "placed"
        )
    )
    return last_order is None or row.updated_at > last_order


def note_placing(cart_id: int, channel: str) -> None:
    """Inside the transaction placing an order: an order whose details all came from the
    previous one (nothing saved since) started its checkout now, for the analytics."""
    if not _checkout_started(db.session.get(CheckoutDetails, cart_id), cart_id):
        events.record(EventKind.CHECKOUT_STARTED, channel)


def save(cart_id: int, details: Details, channel: str, user_id: int | None = None) -> None:
    """Inside a transaction: keep the details with the cart (``channel``: whose cart; a shared
    cart's member keeps their own, see ``details_cart_id``)."""
    cart_id = details_cart_id(cart_id, user_id)
    store.remember_key_in_use()
    sealed = keyring().seal(json.dumps(asdict(details)).encode(), aad("checkout", cart_id))
    row = db.session.get(CheckoutDetails, cart_id)
    if not _checkout_started(row, cart_id):
        events.record(EventKind.CHECKOUT_STARTED, channel)
    if row is None:
        db.session.add(CheckoutDetails(cart_id=cart_id, sealed=sealed, updated_at=clock.now()))
    else:
        row.sealed, row.updated_at = sealed, clock.now()
