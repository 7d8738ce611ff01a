"""The report as the contract's JSON (CONTRACT.md, "Analytics and metrics")."""

from __future__ import annotations

from storefront.analytics.report import Report
from storefront.money import to_decimal_text


def report_json(report: Report, currency: str) -> dict:
    return {
        "from": report.start.isoformat(),
        "to": report.end.isoformat(),
        "carts_created": report.carts_created,
        "lines_added": report.lines_added,
        "units_added": report.units_added,
        "lines_removed": report.lines_removed,
        "checkouts_started": report.checkouts_started,
        "orders_placed": report.orders_placed,
        "orders_paid": report.orders_paid,
        "revenue": to_decimal_text(report.revenue_cents, currency),
        "abandoned_carts": report.abandoned_carts,
        "reminders_sent": report.reminders_sent,
        "carts_recovered": report.carts_recovered,
        "funnel": [{"step": s.step, "shoppers": s.shoppers} for s in report.funnel],
        "top_products": [
            {"sku": p.sku, "units_added": p.units_added, "units_ordered": p.units_ordered}
            for p in report.top_products
        ],
    }
