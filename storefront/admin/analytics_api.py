"""GET /api/v1/admin/analytics: the report of a date range as JSON, for staff (the blueprint's
guard answers everyone else 404)."""

from __future__ import annotations

from flask import current_app, jsonify, request

from storefront.admin.blueprints import api_bp
from storefront.analytics import ranges, report
from storefront.analytics.serialize import report_json


@api_bp.get("/analytics")
def analytics():
    start, end = ranges.parse(request.args.get("from"), request.args.get("to"))
    computed = report.compute(start, end)
    return jsonify(report_json(computed, current_app.config["CURRENCY"]))
