"""/admin/analytics: the shop's analytics for a date range as charts with their tables, and the
same numbers as CSV files."""

from __future__ import annotations

from flask import Response, abort, current_app, render_template, request

from storefront.admin.blueprints import bp
from storefront.analytics import dashboard, export, ranges
from storefront.analytics import report as analytics_report
from storefront.clock import now
from storefront.errors import InvalidRange


def _today():
    return ranges.today(now(), current_app.config["TIME_ZONE"])


def _chosen() -> ranges.Range:
    """The range asked for; the last 30 days of the shop's calendar when none is given."""
    default = ranges.last_days(ranges.DEFAULT_DAYS, _today())
    return ranges.chosen(request.args.get("from"), request.args.get("to"), default)


def _view(chosen: ranges.Range) -> dashboard.Dashboard:
    config = current_app.config
    report = analytics_report.compute(chosen.start, chosen.end)
    return dashboard.build(
        report, chosen, config["TIME_ZONE"], config["CURRENCY"], config["LOCALE"]
    )


@bp.get("/analytics")
def analytics():
    presets = ranges.presets(_today())
    try:
        chosen = _chosen()
    except InvalidRange as error:
        # The form comes back with what was typed and why it cannot be shown.
        page = render_template(
            "admin/analytics.html",
            view=None,
            error=error.message,
            asked={
                "from": request.args.get("from", "")[:40],
                "to": request.args.get("to", "")[:40],
            },
            presets=presets,
        )
        return page, 422, {"X-Error-Code": error.code}
    return render_template(
        "admin/analytics.html",
        view=_view(chosen),
        error=None,
        asked=chosen.query(),
        presets=presets,
    )


@bp.get("/analytics.csv")
def analytics_csv():
    table = request.args.get("table", "days")
    if table not in export.TABLES:
        abort(404)
    view = _view(_chosen())  # a bad range: InvalidRange, a 422 page saying why
    return Response(
        export.csv_text(view, table),
        mimetype="text/csv",
        headers={
            "Content-Disposition": f'attachment; filename="{export.filename(view, table)}"',
            "Cache-Control": "no-store",
        },
    )
