"""Domain errors. Services raise them; the API and pages turn them into 4xx in one place."""


class DomainError(Exception):
    code = "bad_request"

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


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
