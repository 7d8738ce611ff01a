"""/admin: the dashboard, the audit log and the navigation every back-office page shares."""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import current_app, render_template, request

from storefront.admin import audit
from storefront.admin import dashboard as dashboard_figures
from storefront.admin.blueprints import bp
from storefront.clock import now
from storefront.web import whole_number


@bp.get("")
def dashboard():
    config = current_app.config
    figures = dashboard_figures.figures(now(), config["LOW_STOCK"], config["TIME_ZONE"])
    return render_template("admin/dashboard.html", figures=figures)


@bp.get("/audit")
def audit_log():
    filters = audit.Filters(
        staff=request.args.get("staff", "").strip()[:254],
        action=request.args.get("action", "").strip()[:40],
        subject=request.args.get("subject", "").strip()[:120],
        since=_day(request.args.get("since", "")),
        until=_day(request.args.get("until", ""), end=True),
    )
    page = request.args.get("page", "1")
    page = whole_number(page, 5) or 1
    entries, total = audit.entries(filters, page)
    return render_template(
        "admin/audit.html",
        filters=filters,
        entries=entries,
        total=total,
        page=page,
        pages=max(1, -(-total // audit.PAGE_SIZE)),
        args=request.args,
    )


def _day(text: str, end: bool = False) -> datetime | None:
    """A YYYY-MM-DD filter bound (UTC); the end bound includes its whole day. Bad input: none."""
    try:
        day = datetime.strptime(text.strip(), "%Y-%m-%d").replace(tzinfo=now().tzinfo)
        return day + timedelta(days=1) if end else day
    except (ValueError, OverflowError):  # not a date, or the last day there is
        return None


# The navigation, in order. A section appears once its page exists, so each area of the back
# office lands on its own.
SECTIONS = (
    ("admin.dashboard", "Dashboard"),
    ("admin.orders", "Orders"),
    ("admin.products", "Products"),
    ("admin.coupons", "Coupons"),
    ("admin.shipping_methods", "Shipping"),
    ("admin.tax_rates", "Tax"),
    ("admin.analytics", "Analytics"),
    ("admin.emails", "Emails"),
    ("admin.audit_log", "Audit log"),
)


@bp.app_context_processor
def navigation():
    def admin_sections():
        return [section for section in SECTIONS if section[0] in current_app.view_functions]

    return {"admin_sections": admin_sections}
