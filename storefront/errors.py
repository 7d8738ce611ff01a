"""Domain errors. Services raise them; the API and pages turn them into 4xx in one place."""


class DomainError(Exception):
    code = "bad_request"

    def __init__(self, message: str, **detail: object):
        super().__init__(message)
        self.message = message
        # More of the error object in JSON (``skus`` of an out_of_stock, ``fields`` missing).
        self.detail = detail


class BadRequest(DomainError):
    code = "bad_request"


class NotFound(DomainError):
    code = "not_found"


class UnknownSku(DomainError):
    code = "unknown_sku"


class InvalidQuantity(DomainError):
    code = "invalid_quantity"


class InvalidOption(DomainError):
    code = "invalid_option"


class OutOfStock(DomainError):
    code = "out_of_stock"


class LineLimit(DomainError):
    code = "line_limit"


class QuantityLimit(DomainError):
    code = "quantity_limit"


class VersionConflict(DomainError):
    code = "version_conflict"


class IdempotencyKeyReused(DomainError):
    code = "idempotency_key_reused"


class EmptyCart(DomainError):
    code = "empty_cart"


class CheckoutInProgress(DomainError):
    code = "checkout_in_progress"


class CheckoutIncomplete(DomainError):
    code = "checkout_incomplete"


class InvalidEmail(DomainError):
    code = "invalid_email"


class InvalidAddress(DomainError):
    code = "invalid_address"


class UnknownShippingMethod(DomainError):
    code = "unknown_shipping_method"


class ShippingUnavailable(DomainError):
    code = "shipping_unavailable"


class InvalidCoupon(DomainError):
    code = "invalid_coupon"


class UnknownPaymentProvider(DomainError):
    code = "unknown_payment_provider"


class PaymentDeclined(DomainError):
    code = "payment_declined"


class PaymentUnavailable(DomainError):
    code = "payment_unavailable"


class InvalidRule(DomainError):
    """A coupon, shipping method or tax rate staff tried to save with a value it cannot hold."""

    code = "invalid_rule"


class DuplicateRule(DomainError):
    """A coupon code, shipping method id or tax place that another one already has."""

    code = "duplicate_rule"


class InvalidTransition(DomainError):
    code = "invalid_transition"


class InvalidRefundAmount(DomainError):
    code = "invalid_refund_amount"


class InvalidProduct(DomainError):
    """A product field staff typed does not fit (``fields`` names them, ``errors`` says why)."""

    code = "invalid_product"


class SkuTaken(DomainError):
    code = "sku_taken"


class InvalidRange(DomainError):
    """An analytics date range that is missing, malformed, reversed or too long."""

    code = "invalid_range"


class InvalidStock(DomainError):
    """A stock adjustment that would leave less than zero, or lacks its reason."""

    code = "invalid_stock"


class NotSignedIn(DomainError):
    code = "not_signed_in"


class InvitationUsed(DomainError):
    code = "invitation_used"


class InvitationExpired(DomainError):
    code = "invitation_expired"


class InvitationStale(DomainError):
    """The invitation's cart was ordered or closed since the link was made."""

    code = "invitation_stale"


class OwnInvitation(DomainError):
    code = "own_invitation"


class CartAlreadyShared(DomainError):
    code = "cart_already_shared"


class AlreadySharing(DomainError):
    code = "already_sharing"


class NotCartOwner(DomainError):
    code = "not_cart_owner"


class NotShared(DomainError):
    code = "not_shared"


class InvalidMoment(DomainError):
    """A point in time the cart's history cannot answer for: unreadable, without its offset,
    in the future, or before the history window."""

    code = "invalid_moment"


class HandoffRefused(DomainError):
    """A handoff code that cannot be used (``reason``: used, expired, ordered, ended, own_cart,
    signed_in)."""

    code = "handoff_refused"
