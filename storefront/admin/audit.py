"""The audit log: every staff change is written in the same transaction as the change itself."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from storefront.accounts.models import User
from storefront.admin.models import StaffAction
from storefront.extensions import db

PAGE_SIZE = 50


def record(
    staff: User,
    action: str,
    subject: str,
    before: dict[str, object] | None = None,
    after: dict[str, object] | None = None,
) -> StaffAction:
    """Add the entry to the session; the caller's commit writes it with the change."""
    entry = StaffAction(
        staff_user_id=staff.id,
        staff_email=staff.email,
        action=action,
        subject=str(subject)[:120],
        before=json.dumps(before or {}, sort_keys=True, default=str),
        after=json.dumps(after or {}, sort_keys=True, default=str),
    )
    db.session.add(entry)
    return entry


def changed(before: dict[str, object], after: dict[str, object]) -> tuple[dict, dict]:
    """Only the fields whose value differs, so an entry says what changed and nothing else."""
    keys = [key for key in after if before.get(key) != after.get(key)]
    return {key: before.get(key) for key in keys}, {key: after[key] for key in keys}


@dataclass(frozen=True)
class Filters:
    staff: str = ""
    action: str = ""
    subject: str = ""
    since: datetime | None = None
    until: datetime | None = None


@dataclass(frozen=True)
class Entry:
    at: datetime
    staff_email: str
    action: str
    subject: str
    before: dict[str, object]
    after: dict[str, object]

    @property
    def changes(self) -> list[tuple[str, object, object]]:
        keys = list(dict.fromkeys([*self.before, *self.after]))
        return [(key, self.before.get(key), self.after.get(key)) for key in keys]


def entries(filters: Filters, page: int = 1) -> tuple[list[Entry], int]:
    """One page of the log, newest first, and how many entries match in all."""
    query = select(StaffAction)
    if filters.staff:
        query = query.where(StaffAction.staff_email.contains(filters.staff.lower()))
    if filters.action:
        query = query.where(StaffAction.action.startswith(filters.action))
    if filters.subject:
        query = query.where(StaffAction.subject.contains(filters.subject))
    if filters.since:
        query = query.where(StaffAction.at >= filters.since)
    if filters.until:
        query = query.where(StaffAction.at < filters.until)
    total = db.session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = db.session.scalars(
        query.order_by(StaffAction.at.desc(), StaffAction.id.desc())
        .limit(PAGE_SIZE)
        .offset((max(page, 1) - 1) * PAGE_SIZE)
    )
    return [
        Entry(
            at=row.at,
            staff_email=row.staff_email,
            action=row.action,
            subject=row.subject,
            before=json.loads(row.before),
            after=json.loads(row.after),
        )
        for row in rows
    ], total
