"""What a commerce event can say happened, and the kind of device it came from (stored as
small integers: an event row stays a few dozen bytes)."""

from __future__ import annotations

from enum import IntEnum

from storefront import devices


class EventKind(IntEnum):
    CART_CREATED = 1  # a cart got its first line
    LINE_ADDED = 2  # a new line, by the shopper's change
    QUANTITY_CHANGED = 3  # ``quantity`` is the signed difference
    LINE_REMOVED = 4  # by the shopper: a removal, or a quantity set to 0
    CART_EMPTIED = 5
    MERGED = 6  # a guest cart taken into an account's at sign-in
    RESTORED = 7  # a restore from the history (the shopper's or support's)
    CHECKOUT_STARTED = 8  # the cart's shopper first saved checkout details
    ORDER_PLACED = 9
    PAYMENT_FAILED = 10
    ORDER_PAID = 11
    ORDER_CANCELLED = 12
    ORDER_REFUNDED = 13
    REMINDER_SENT = 14
    # An order placed after its shopper brought a reminded cart back (mail.reminders'
    # order_followed): a recovery counts only when an order follows.
    CART_RECOVERED = 15
    LINE_ORDERED = 16  # one line of an order just placed: ``sku`` and ``quantity``

    @property
    def label(self) -> str:
        return self.name.lower()


class DeviceKind(IntEnum):
    UNKNOWN = 0
    DESKTOP = 1
    MOBILE = 2
    TABLET = 3
    APP = 4  # an API client or script
    SUPPORT = 5  # customer support or staff acting for the shopper
    SERVER = 6  # the shop itself (a job: reminders, expiry)

    @property
    def label(self) -> str:
        return self.name.lower()


_SYSTEM_KINDS = {
    "Android": DeviceKind.MOBILE,
    "iPhone": DeviceKind.MOBILE,
    "iPad": DeviceKind.TABLET,
    "ChromeOS": DeviceKind.DESKTOP,
    "Windows": DeviceKind.DESKTOP,
    "macOS": DeviceKind.DESKTOP,
    "Linux": DeviceKind.DESKTOP,
}


def device_kind(code: int) -> DeviceKind:
    """From a revision's device code (``storefront.devices``) to the kind analytics keep."""
    if code == devices.API_CLIENT:
        return DeviceKind.APP
    if code == devices.SUPPORT:
        return DeviceKind.SUPPORT
    system_index = code % 16
    if 0 < system_index < len(devices.SYSTEM_NAMES):
        return _SYSTEM_KINDS.get(devices.SYSTEM_NAMES[system_index], DeviceKind.UNKNOWN)
    return DeviceKind.UNKNOWN
