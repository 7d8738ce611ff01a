"""Commerce events are kept STOREFRONT_ANALYTICS_DAYS days, then deleted by ``cleanup``:
oldest first, in small batches, each its own short write transaction (the shop keeps
serving while it runs)."""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import delete, select

from storefront import clock
from storefront.analytics.models import CommerceEvent
from storefront.database import begin_write
from storefront.extensions import db

BATCH = 1_000


def cutoff() -> datetime:
    """Events from before this instant are past retention."""
    return clock.now() - timedelta(days=current_app.config["ANALYTICS_DAYS"])


def prune() -> int:
    """Delete every event past retention; returns how many."""
    before, total = cutoff(), 0
    events = CommerceEvent.__table__
    while True:
        begin_write()
        ids = list(
            db.session.scalars(
                select(events.c.id).where(events.c.at < before).order_by(events.c.id).limit(BATCH)
            )
        )
        if ids:
            db.session.execute(delete(events).where(events.c.id.in_(ids)))
        db.session.commit()
        total += len(ids)
        if len(ids) < BATCH:
            return total
