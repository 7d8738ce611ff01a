"""The transactional outbox: an email is recorded in the same transaction as what causes it,
then sent by a job that claims each message with a lease.

Exactly once, as far as SMTP allows: a message is claimed by one worker at a time (a
conditional UPDATE on its lease); a worker that dies before the server accepted the message
leaves a lease that runs out, and the next worker sends it; one that dies after acceptance but
before recording it leads to one more send of the same bytes, with the same ``Message-ID``, so
mail clients show it once.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage

from sqlalchemy import func, or_, select, update

from storefront import clock
from storefront.cart.sealing import keyring
from storefront.database import write
from storefront.extensions import db
from storefront.mail.compose import BadAddress, compose
from storefront.mail.models import OutboxMessage
from storefront.mail.transports import TransportError

log = logging.getLogger(__name__)
LEASE = timedelta(minutes=2)
MAX_ATTEMPTS = 12
BATCH = 20


# kind -> check(dedupe_key) run just before sending: False drops the message (a reminder about
# a cart the shopper has since come back to).
_checks: dict[str, Callable[[str], bool]] = {}


def register_check(kind: str, check: Callable[[str], bool]) -> None:
    _checks[kind] = check


# What else must be written with a message of this kind's "sent" (by its dedupe key): the
# analytics' count of reminders sent.
_on_sent: dict[str, Callable[[str, datetime], None]] = {}


def register_on_sent(kind: str, then: Callable[[str, datetime], None]) -> None:
    """``then(dedupe_key, sent_at)`` runs in the transaction marking such a message sent."""
    _on_sent[kind] = then


def aad(message_id: str) -> bytes:
    return b"outbox:" + message_id.encode()


def enqueue(kind: str, dedupe_key: str, message: EmailMessage) -> bool:
    """Add the message to the caller's transaction. False when that cause was queued before."""
    if db.session.scalar(select(OutboxMessage.id).where(OutboxMessage.dedupe_key == dedupe_key)):
        return False
    message_id = message["Message-ID"]
    db.session.add(
        OutboxMessage(
            dedupe_key=dedupe_key,
            kind=kind,
            message_id=message_id,
            sealed=keyring().seal(bytes(message), aad(message_id)),
            next_attempt_at=clock.now(),
        )
    )
    db.session.info["mail_queued"] = True
    return True


def queue_email(
    kind: str,
    dedupe_key: str,
    to: str,
    subject: str,
    context: dict[str, object],
    *,
    template: str | None = None,
    headers: dict[str, str] | None = None,
) -> bool:
    """Compose and enqueue in the caller's transaction. An address no message can carry (an
    account from before the shop checked addresses this way) skips the email and says so in
    the log: it must never fail the order, reset or job that causes it."""
    try:
        message = compose(template or kind, to, subject, context, headers)
    except BadAddress:
        log.warning("outbox: a %s email was not queued: its address cannot be used", kind)
        return False
    return enqueue(kind, dedupe_key, message)


def open_message(row: OutboxMessage) -> EmailMessage:
    raw = keyring().open(row.sealed, aad(row.message_id))
    return message_from_bytes(raw, policy=policy.default)


def backoff(attempts: int) -> timedelta:
    """30 s, 1 min, 2 min, ... up to an hour between tries: a server down for a day still gets
    every message, and a brief outage costs a minute."""
    return timedelta(seconds=min(30 * 2 ** max(attempts - 1, 0), 3600))


@dataclass
class SendReport:
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    dropped: int = 0


def claim(worker: str, limit: int = BATCH) -> list[int]:
    now = clock.now()
    due = list(
        db.session.scalars(
            select(OutboxMessage.id)
            .where(
                OutboxMessage.status == "pending",
                OutboxMessage.next_attempt_at <= now,
                or_(OutboxMessage.lease_until.is_(None), OutboxMessage.lease_until < now),
            )
            .order_by(OutboxMessage.id)
            .limit(limit)
        )
    )
    db.session.rollback()
    if not due:
        return []

    def take() -> list[int]:
        taken = []
        for message_id in due:
            result = db.session.execute(
                update(OutboxMessage)
                .where(
                    OutboxMessage.id == message_id,
                    OutboxMessage.status == "pending",
                    or_(OutboxMessage.lease_until.is_(None), OutboxMessage.lease_until < now),
                )
                .values(
                    lease_until=now + LEASE,
                    leased_by=worker,
                    attempts=OutboxMessage.attempts + 1,
                )
            )
            if result.rowcount == 1:
                taken.append(message_id)
        return taken

    return write(take)


def send_due(transport, worker: str | None = None) -> SendReport:
    """Claim what is due and send it, one message at a time. Each message's lease is renewed
    just before it is sent, so a slow server delays the batch but never lets another worker
    take a message this one is about to send."""
    worker = worker or secrets.token_hex(8)
    report = SendReport()
    for message_id in claim(worker):
        if not write(lambda i=message_id: _renew(i, worker)):
            continue  # the lease ran out while earlier messages were sent: another worker's now
        row = db.session.get(OutboxMessage, message_id)
        check = _checks.get(row.kind)
        if check is not None and not check(row.dedupe_key):
            write(lambda i=message_id: _dropped(i, worker))
            report.dropped += 1
            continue
        try:
            message = open_message(row)
        except Exception:  # a key gone, or damaged bytes: it can never be sent
            log.exception("outbox: message %d cannot be opened; given up", message_id)
            write(
                lambda i=message_id: _failed(
                    i, worker, TransportError("cannot be opened", permanent=True)
                )
            )
            report.failed += 1
            continue
        db.session.rollback()  # no transaction held while talking to the server
        try:
            transport.send(message)
        except Exception as exc:  # whatever went wrong, the message waits its turn
            if not isinstance(exc, TransportError):
                log.exception("outbox: sending message %d failed unexpectedly", message_id)
                exc = TransportError(f"{type(exc).__name__}")
            gave_up = write(lambda i=message_id, e=exc: _failed(i, worker, e))
            if gave_up:
                report.failed += 1
            else:
                report.retrying += 1
            continue
        if not write(lambda i=message_id: _sent(i, worker)):
            log.warning("outbox: message %d was sent after its lease ran out", message_id)
        report.sent += 1
    return report


def _renew(message_id: int, worker: str) -> bool:
    now = clock.now()
    result = db.session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.id == message_id,
            OutboxMessage.leased_by == worker,
            OutboxMessage.status == "pending",
            OutboxMessage.lease_until > now,
        )
        .values(lease_until=now + LEASE)
    )
    return result.rowcount == 1


def _sent(message_id: int, worker: str) -> bool:
    now = clock.now()
    result = db.session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == message_id, OutboxMessage.leased_by == worker)
        .values(status="sent", sent_at=now, lease_until=None, last_error=None)
    )
    if result.rowcount != 1:
        return False
    row = db.session.get(OutboxMessage, message_id)
    then = _on_sent.get(row.kind)
    if then is not None:
        then(row.dedupe_key, now)
    return True


def _dropped(message_id: int, worker: str) -> None:
    db.session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == message_id, OutboxMessage.leased_by == worker)
        .values(status="dropped", lease_until=None)
    )


def _failed(message_id: int, worker: str, exc: TransportError) -> bool:
    row = db.session.get(OutboxMessage, message_id)
    if row is None or row.leased_by != worker or row.status != "pending":
        return False
    row.last_error = str(exc)[:300]
    row.lease_until = None
    if exc.permanent or row.attempts >= MAX_ATTEMPTS:
        row.status = "failed"
        log.error("outbox: gave up on a %s email after %d tries", row.kind, row.attempts)
        return True
    row.next_attempt_at = clock.now() + backoff(row.attempts)
    log.warning("outbox: a %s email will be tried again (try %d)", row.kind, row.attempts)
    return False


def backlog() -> dict[str, int]:
    """Messages waiting and given up, for the back office and the metrics."""
    rows = db.session.execute(
        select(OutboxMessage.status, func.count())
        .where(OutboxMessage.status.in_(("pending", "failed")))
        .group_by(OutboxMessage.status)
    )
    counts = {"pending": 0, "failed": 0}
    counts.update(dict(rows.all()))
    return counts
