"""Every refusal in one place: JSON under /api/, a notice for htmx, a friendly page otherwise."""

from __future__ import annotations

from flask import Flask, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import DBAPIError
from werkzeug.exceptions import HTTPException

from storefront import metrics, security
from storefront.errors import DomainError
from storefront.web import is_htmx

STATUS = {
    "bad_request": 400,
    "csrf_failed": 403,
    "not_found": 404,
    "out_of_stock": 409,
    "line_limit": 409,
    "quantity_limit": 409,
    "version_conflict": 412,
    "unknown_sku": 422,
    "invalid_quantity": 422,
    "invalid_option": 422,
    "idempotency_key_reused": 422,
    "invalid_account": 422,
    "rate_limited": 429,
    "not_signed_in": 401,
    "payment_declined": 402,
    "empty_cart": 409,
    "checkout_in_progress": 409,
    "checkout_incomplete": 422,
    "invalid_email": 422,
    "invalid_address": 422,
    "unknown_shipping_method": 422,
    "shipping_unavailable": 422,
    "invalid_coupon": 422,
    "unknown_payment_provider": 422,
    "payment_unavailable": 502,
    "service_unavailable": 503,
    "invalid_rule": 422,
    "duplicate_rule": 409,
    "invalid_transition": 409,
    "invalid_refund_amount": 422,
    "invalid_image": 422,
    "invalid_product": 422,
    "sku_taken": 409,
    "invalid_stock": 422,
    "invalid_range": 422,
    "invitation_used": 410,
    "invitation_expired": 410,
    "invitation_stale": 409,
    "own_invitation": 409,
    "cart_already_shared": 409,
    "already_sharing": 409,
    "not_cart_owner": 403,
    "not_shared": 409,
    "invalid_moment": 422,
    "handoff_refused": 409,
}

HTTP_MESSAGES = {
    400: "The request could not be understood.",
    404: "There is nothing at this address.",
    405: "This address does not accept that method.",
    413: "The request body is too large (the limit is 64 KB).",
    429: "Too many changes in a short time. Wait a moment, then try again.",
}


def refusal(
    status: int,
    code: str,
    message: str,
    headers: dict[str, str] | None = None,
    detail: dict[str, object] | None = None,
):
    # Scripts recognise a refusal by this code, never by matching the English message.
    metrics.refused(code)
    headers = {**(headers or {}), "X-Error-Code": code}
    # /live/ (live updates without a WebSocket) is read by scripts too.
    if request.path.startswith(("/api/", "/live/")):
        error = {"code": code, "message": message, **(detail or {})}
        return jsonify(error=error), status, headers
    if is_htmx():
        body = render_template("_notice.html", message=message, error=True)
        return body, status, {**headers, "HX-Retarget": "#notice", "HX-Reswap": "innerHTML"}
    return render_template("errors/error.html", status=status, message=message), status, headers


def register(app: Flask) -> None:
    @app.errorhandler(DomainError)
    def domain_error(exc: DomainError):
        return refusal(STATUS.get(exc.code, 400), exc.code, exc.message, detail=exc.detail)

    @app.errorhandler(DBAPIError)
    def database_connection_lost(exc: DBAPIError):
        # A pooled connection the database server dropped while it was in use (a restart, a
        # failover): the pool replaces its connections, and a retry with the same idempotency
        # key applies a change once. Anything else is a real failure, logged with its
        # traceback as a 500.
        if not exc.connection_invalidated:
            raise exc
        return refusal(
            503,
            "service_unavailable",
            "The shop lost its database connection for a moment. Try again.",
            {"Retry-After": "1"},
        )

    @app.errorhandler(CSRFError)
    def csrf_error(exc: CSRFError):
        # Over HTTPS a form must also name this shop as its Referer (flask-wtf's strict check):
        # a shopper whose browser strips it needs to hear that, not "reload", which won't help.
        if "referrer" in (exc.description or ""):
            message = (
                "Your browser did not say this came from a page of this shop (no Referer, or "
                "another site's). Reload the page and try again; if it keeps failing, let your "
                "browser send the Referer to this site."
            )
        else:
            message = (
                "Your session expired or the security token is missing. "
                "Reload the page and try again."
            )
        return refusal(403, "csrf_failed", message)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        status = exc.code or 500
        if status == 405:
            message = f"{request.method} is not allowed here."
        else:
            message = HTTP_MESSAGES.get(status, exc.description or "The request failed.")
        code = {404: "not_found", 429: "rate_limited"}.get(
            status, "bad_request" if status < 500 else "internal_error"
        )
        headers = _protocol_headers(exc)
        if status == 429:
            headers.update(security.refused_headers())
        return refusal(status, code, message, headers)


def _protocol_headers(exc: HTTPException) -> dict[str, str]:
    """The headers the exception itself carries (a 405's ``Allow``, required by RFC 9110;
    a 416's ``Content-Range``), without its own Content-Type: the refusal sets the body's."""
    return {
        name: value
        for name, value in exc.get_headers()
        if name.lower() not in ("content-type", "content-length")
    }
