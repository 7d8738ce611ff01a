"""What a serving process does once its app is loaded (gunicorn.conf.py calls it): tuning that
is the server's business, not every ``create_app``'s (tests build hundreds of apps)."""

from __future__ import annotations

import gc
import logging

log = logging.getLogger(__name__)


def is_shop(app) -> bool:
    """The app is the shop's (``create_app``'s), not another app served with this repository's
    gunicorn.conf.py (the benches' baselines are)."""
    return getattr(app, "name", None) == "storefront"


def compile_templates(app) -> None:
    """Every template compiled before the worker takes its first request (and before the
    collector freezes what start-up built). Jinja compiles a template on its first use: over
    HTTP through gunicorn, a worker's first ``/cart`` of a 1,000-line cart took 69.5–73.0 ms
    (the p99 of bench/over_http.py's series) against 24.6–34.2 ms with this, and every page's
    first visit after a start, a restart or a deploy paid the same (issue 10). About 0.4 s once
    per worker (timed in process), before it accepts. A template that does not compile is
    logged and left to fail where it is used, as before: one broken page must not keep the
    whole shop from starting."""
    env = app.jinja_env
    for name in env.list_templates():
        try:
            env.get_template(name)
        except Exception:
            log.exception("template %s does not compile; the pages that use it will fail", name)


def tune_garbage_collector() -> None:
    """A change to a 1,000-line cart allocates thousands of small objects. With CPython's
    default thresholds, full collections over the whole heap then land inside requests: a p99
    of about 90 ms for an add, measured. What start-up built is frozen (never scanned again)
    and the old generations are collected much less often. The young generation stays small:
    at 50,000 objects one young collection took 21-49 ms, at 3,000 a few ms at most, with
    less time in collections overall (bench/cart_ops.py reports them, docs/PERFORMANCE.md)."""
    gc.freeze()
    gc.set_threshold(3_000, 20, 100)


def start_jobs(app) -> None:
    """Expiring unpaid orders and the like run inside each web worker unless the operator runs
    ``storefront worker`` instead (STOREFRONT_WEB_JOBS=false); each job is done once however
    many run it."""
    if app.config.get("WEB_JOBS", True):
        from storefront import jobs

        jobs.start_in_background(app)
