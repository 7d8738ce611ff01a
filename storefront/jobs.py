"""Background jobs: sending queued email, expiring unpaid orders and settling payment attempts a
crash left open.

Each job claims its rows with a conditional UPDATE (``WHERE status = 'pending'``), so however
many processes run them (every web worker on the embedded default, ``storefront worker``
elsewhere) each expiry is done exactly once. Work is taken in batches so one run never holds
the write lock long.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass, field

from flask import Flask, current_app
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from storefront import clock
from storefront.checkout import placing
from storefront.checkout.models import PaymentAttempt
from storefront.checkout.providers import registry
from storefront.checkout.providers.base import PaymentStatus, ProviderUnavailable
from storefront.database import write
from storefront.extensions import db
from storefront.mail import outbox, reminders, transports
from storefront.orders import payments
from storefront.orders import services as orders
from storefront.orders.models import Order

log = logging.getLogger(__name__)
BATCH = 100
INTERVAL_SECONDS = 30.0


# Email should leave within seconds, not at the next 30 s round: a commit that queued one
# wakes this process's job loop (another process's loop finds it on its next round).
_wake = threading.Event()


@event.listens_for(Session, "after_commit")
def _mail_committed(session) -> None:
    if session.info.pop("mail_queued", False):
        _wake.set()


@event.listens_for(Session, "after_rollback")
def _mail_rolled_back(session) -> None:
    session.info.pop("mail_queued", None)


@dataclass
class Report:
    orders_expired: int = 0
    attempts_settled: int = 0
    reminders_queued: int = 0
    mail: outbox.SendReport = field(default_factory=outbox.SendReport)

    def line(self) -> str:
        return (
            f"jobs: {self.orders_expired} unpaid order(s) cancelled, "
            f"{self.attempts_settled} interrupted payment(s) settled, "
            f"{self.mail.sent} email(s) sent ({self.mail.retrying} to retry, "
            f"{self.mail.failed} given up)"
        )

    def anything(self) -> bool:
        mail = self.mail
        return (
            bool(self.orders_expired or self.attempts_settled)
            or mail.sent + mail.retrying + mail.failed > 0
        )


def send_mail(report: Report) -> None:
    report.reminders_queued = reminders.send_reminders()
    report.mail = outbox.send_due(transports.for_config(current_app.config))


def expire_orders(report: Report) -> None:
    seen: set[int] = set()
    while True:
        due = [o for o in orders.overdue(clock.now(), BATCH) if o.id not in seen]
        db.session.rollback()  # no read transaction held while providers are asked
        if not due:
            return
        for order in due:
            seen.add(order.id)
            report.orders_expired += payments.settle_overdue(order)


def settle_attempts(report: Report) -> None:
    """An attempt still open past its time: ask its provider how it ended; money that moved
    becomes an order, anything else gives its stock and coupon back."""
    stale = list(
        db.session.scalars(
            select(PaymentAttempt)
            .where(PaymentAttempt.status == "open", PaymentAttempt.settle_by <= clock.now())
            .limit(BATCH)
        )
    )
    db.session.rollback()
    for attempt in stale:
        provider = registry.get(attempt.provider)
        try:
            outcome = provider.confirm(attempt.id, None) if provider else None
        except ProviderUnavailable:
            continue  # ask again next run
        if outcome is not None and outcome.status == PaymentStatus.CAPTURED:
            made = placing.settle_recovered(attempt, outcome)
        else:
            made = write(
                lambda a=attempt: orders.fail_attempt(
                    a.id, "expired", "The payment was never completed.", status="expired"
                )
            )
        report.attempts_settled += bool(made)


def pending() -> dict[str, int]:
    """What waits for these jobs now (the metrics' storefront_jobs_pending)."""
    now = clock.now()
    counts = {
        "email": outbox.backlog()["pending"],
        "order_expiry": db.session.scalar(
            select(func.count()).where(Order.status == "pending", Order.hold_until <= now)
        ),
        "payment_settlement": db.session.scalar(
            select(func.count()).where(
                PaymentAttempt.status == "open", PaymentAttempt.settle_by <= now
            )
        ),
    }
    db.session.rollback()
    return counts


def run_once() -> Report:
    """Each job on its own: one that fails (a row it cannot handle) is logged and tried again
    next round, and never keeps the others from running."""
    report = Report()
    for job in (expire_orders, settle_attempts, send_mail):
        try:
            job(report)
        except Exception:
            db.session.rollback()
            log.exception("background job %s failed; trying again next round", job.__name__)
    return report


def run_forever(app: Flask, stop: threading.Event, interval: float = INTERVAL_SECONDS) -> None:
    log.info("background jobs: every %.0f s in process %d", interval, os.getpid())
    next_run = time.monotonic() + interval
    while not stop.is_set():
        woken = _wake.wait(min(1.0, max(0.0, next_run - time.monotonic())))
        if stop.is_set():
            return
        if not woken and time.monotonic() < next_run:
            continue
        _wake.clear()
        next_run = time.monotonic() + interval
        try:
            with app.app_context():
                report = run_once()
                if report.anything():
                    log.info(report.line())
        except Exception:
            log.exception("background jobs failed; trying again next run")


def start_in_background(app: Flask, interval: float = INTERVAL_SECONDS) -> threading.Event:
    """The web process runs the jobs itself (a greenlet under gevent): nothing to set up."""
    stop = threading.Event()
    threading.Thread(
        target=run_forever, args=(app, stop, interval), name="jobs", daemon=True
    ).start()
    return stop
