"""Staff preview every email the shop sends, filled with sample data, text and HTML."""

from __future__ import annotations

from types import SimpleNamespace

from flask import abort, current_app, render_template

from storefront import clock
from storefront.admin.blueprints import bp
from storefront.catalog.services import ProductFacts
from storefront.mail import outbox
from storefront.mail.compose import compose
from storefront.mail.orders import SUBJECTS
from storefront.security import talisman

SAMPLE_TO = "customer@example.com"


def _sample_order(status: str):
    lines = (
        SimpleNamespace(
            sku="DEMO-0001",
            name="Blue Mug",
            options={},
            quantity=2,
            unit_price=578,
            line_total=1156,
        ),
        SimpleNamespace(
            sku="DEMO-0002",
            name="Engraved Pen",
            options={"engraving": "For Ada"},
            quantity=1,
            unit_price=1299,
            line_total=1299,
        ),
    )
    order = SimpleNamespace(
        number=1001,
        status=status,
        currency=current_app.config["CURRENCY"],
        provider="manual" if status == "pending" else "test",
        subtotal=2455,
        discount=246,
        coupon_code="WELCOME10",
        shipping=500,
        tax=271,
        total=2980,
        paid_at=None if status == "pending" else clock.now(),
    )
    view = SimpleNamespace(lines=lines, shipping_name="Standard", email=SAMPLE_TO)
    return order, view


def _order_email(step: str, status: str, **extra):
    order, view = _sample_order(status)
    config = current_app.config
    context = {
        "view": view,
        "order": order,
        "step": step,
        "link": f"{config['PUBLIC_URL']}/orders/1001",
        "manual_instructions": config["MANUAL_PAYMENT_INSTRUCTIONS"],
        **extra,
    }
    subject_key = "placed_paid" if step == "placed" and status == "paid" else step
    return "order", SUBJECTS[subject_key].format(number=1001), context


def _samples():
    base = current_app.config["PUBLIC_URL"]
    mug = ProductFacts("DEMO-0001", "Blue Mug", 578, 12, True)
    return {
        "order-placed-paid": ("Order placed and paid", _order_email("placed", "paid")),
        "order-placed-manual": ("Order placed, to pay by hand", _order_email("placed", "pending")),
        "order-paid": ("Payment received", _order_email("paid", "paid")),
        "order-fulfilled": (
            "Order on its way",
            _order_email("fulfilled", "fulfilled", tracking="DHL 0034 5678"),
        ),
        "order-cancelled": ("Order cancelled", _order_email("cancelled", "cancelled")),
        "order-refunded": ("Refund", _order_email("refunded", "refunded", amount=1156)),
        "owner-new-order": (
            "To the owner: a new order",
            ("owner_new_order", "new order 1001", _order_email("placed", "paid")[2]),
        ),
        "low-stock": (
            "To the owner: products running low",
            (
                "low_stock",
                "2 products running low",
                {"products": [("DEMO-0001", "Blue Mug", 3), ("DEMO-0007", "Red Cup", 0)]},
            ),
        ),
        "password-reset": (
            "Password reset",
            (
                "password_reset",
                "reset your password",
                {"link": f"{base}/password/reset/sample", "valid_minutes": 60},
            ),
        ),
        "cart-reminder": (
            "Cart reminder",
            (
                "cart_reminder",
                "you left something in your cart",
                {
                    "rows": [(SimpleNamespace(quantity=2), mug)],
                    "link": f"{base}/cart/reminder/sample",
                    "unsubscribe": f"{base}/email/unsubscribe/sample",
                },
            ),
        ),
    }


@bp.get("/emails")
def emails():
    samples = _samples()
    return render_template(
        "admin/emails/index.html",
        samples=[(key, label) for key, (label, _) in samples.items()],
        backlog=outbox.backlog(),
    )


def _composed(key: str):
    sample = _samples().get(key)
    if sample is None:
        abort(404)
    label, (template, subject, context) = sample
    message = compose(template, SAMPLE_TO, subject, context)
    return label, message


@bp.get("/emails/<key>")
def email_preview(key: str):
    label, message = _composed(key)
    text = message.get_body(preferencelist=("plain",)).get_content()
    return render_template(
        "admin/emails/preview.html", key=key, label=label, message=message, text=text
    )


# The email's own inline styles, and nothing else: no script, no outside resource.
EMAIL_PREVIEW_POLICY = {"default-src": "'none'", "style-src": "'unsafe-inline'", "img-src": "data:"}


@bp.get("/emails/<key>/html")
@talisman(content_security_policy=EMAIL_PREVIEW_POLICY)
def email_preview_html(key: str):
    """The HTML part alone, as a mail client would show it."""
    _, message = _composed(key)
    html = message.get_body(preferencelist=("html",)).get_content()
    return html, 200, {"Content-Type": "text/html; charset=utf-8"}
