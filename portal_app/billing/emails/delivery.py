"""Delivery of queued emails over SMTP: claims, retries with backoff, recovery after a crash, resend.

One pass (deliver_queued_emails, every few seconds from background.py and after a billing run):

1. Rows held in "sending" for longer than SENDING_TIMEOUT (the worker died mid-send) go back to the
   queue; the attempt they were on counts.
2. Each due row (queued, next_attempt_at null or past) is claimed by a conditional UPDATE
   (queued -> sending, attempts + 1): of two workers only one claims it, the other moves on.
3. One SMTP attempt, outside any transaction. Accepted: sent. A permanent refusal (5xx for the
   recipient or the message): failed at once. Anything else (4xx, server down or slow): queued again
   for RETRY_DELAYS[attempts - 1] later, or failed with the last error once MAX_ATTEMPTS are spent.
   An unreachable server ends the pass: the other rows wait for the next one.

Delivery is at least once, not exactly once: a worker that dies after the server took the message
but before it recorded "sent" leaves the row in "sending", and recovery sends it again. Every attempt
of one row carries the same Message-ID header (smtp.message_id) so receivers can drop the duplicate.
The outcome is written only while the row is still this worker's claim (same attempt number), so a
late worker never overwrites the outcome of the attempt that recovered its row.

Bodies are never logged: they carry portal links. Errors name the recipient's domain, not the address.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session, select

from portal_app.billing.emails.smtp import Failure, build_message, classify, deliver
from portal_app.billing.emails.status import EmailStatus, move
from portal_app.db import new_session
from portal_app.models import EmailMessage, Merchant, utcnow
from portal_app.settings import Settings, get_settings

log = logging.getLogger(__name__)
E = EmailStatus

# Wait after the 1st, 2nd, ... failed attempt: about 21 hours from the first try to the last.
RETRY_DELAYS = (
    timedelta(minutes=1),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=6),
    timedelta(hours=12),
)
MAX_ATTEMPTS = len(RETRY_DELAYS) + 1
# A "sending" row older than this was left by a worker that stopped (one attempt takes seconds:
# SMTP_TIMEOUT_SECONDS per step).
SENDING_TIMEOUT = timedelta(minutes=10)
INTERRUPTED = "Interrupted: the delivery worker stopped during the attempt"

_table = EmailMessage.__table__


def retry_delay(attempts: int) -> timedelta | None:
    """How long to wait after `attempts` failed attempts; None when no attempt is left."""
    if attempts >= MAX_ATTEMPTS:
        return None
    return RETRY_DELAYS[max(attempts, 1) - 1]


def _due(now: datetime):
    return sa.or_(_table.c.next_attempt_at.is_(None), _table.c.next_attempt_at <= now)


def _stuck(now: datetime):
    # claimed_at null: left in "sending" by a version that did not record the claim time.
    return sa.or_(_table.c.claimed_at.is_(None), _table.c.claimed_at < now - SENDING_TIMEOUT)


def recover_stuck(engine, *, now: datetime | None = None) -> int:
    """Rows in "sending" past SENDING_TIMEOUT back to the queue (due now), or failed when that attempt
    was their last. Returns how many were recovered."""
    now = now or utcnow()
    with new_session(engine) as session, session.begin():
        stuck = session.exec(
            select(sa.func.count()).select_from(_table).where(_table.c.status == E.SENDING.value, _stuck(now))
        ).one()
        if not stuck:
            return 0
        failed = move(
            session,
            E.SENDING,
            E.FAILED,
            where=[_stuck(now), _table.c.attempts >= MAX_ATTEMPTS],
            claimed_at=None,
            next_attempt_at=None,
            error=INTERRUPTED,
        )
        requeued = move(
            session,
            E.SENDING,
            E.QUEUED,
            where=[_stuck(now)],
            claimed_at=None,
            next_attempt_at=now,
            error=INTERRUPTED,
            # the interrupted attempt counts (an older version claimed without counting)
            attempts=sa.case((_table.c.attempts < 1, 1), else_=_table.c.attempts),
        )
    log.warning(
        "recovered %d email(s) stuck in sending: %d queued again, %d failed", failed + requeued, requeued, failed
    )
    return failed + requeued


def _claim(engine, email_id: int, now: datetime, settings: Settings):
    """(MIME message, attempt number, kind) of the row if this worker claimed it, else None."""
    with new_session(engine) as session, session.begin():
        claimed = move(
            session,
            E.QUEUED,
            E.SENDING,
            where=[_table.c.id == email_id, _due(now)],
            claimed_at=now,
            attempts=_table.c.attempts + 1,
        )
        if not claimed:
            return None
        row = session.get(EmailMessage, email_id)
        merchant = session.get(Merchant, row.merchant_id)
        return build_message(row, merchant, settings), row.attempts, row.kind


def _record(session: Session, email_id: int, attempt: int, now: datetime, failure: Failure | None) -> str:
    """Write the attempt's outcome while the row is still this claim; returns the status written
    ("" when the row was recovered by another worker meanwhile)."""
    mine = [_table.c.id == email_id, _table.c.attempts == attempt]
    done = {"claimed_at": None, "next_attempt_at": None}
    if failure is None:
        moved = move(session, E.SENDING, E.SENT, where=mine, sent_at=now, error="", **done)
        return E.SENT if moved else ""
    delay = None if failure.permanent else retry_delay(attempt)
    if delay is None:
        moved = move(session, E.SENDING, E.FAILED, where=mine, error=failure.error, **done)
        return E.FAILED if moved else ""
    moved = move(
        session, E.SENDING, E.QUEUED, where=mine, error=failure.error, claimed_at=None, next_attempt_at=now + delay
    )
    return E.QUEUED if moved else ""


def deliver_queued_emails(
    engine, *, settings: Settings | None = None, limit: int = 200, now: datetime | None = None
) -> int:
    """One delivery pass (see the module's docstring); never raises for an SMTP problem. `now` is the
    clock for claims, backoff and recovery (tests pass it). Returns how many emails were sent."""
    settings = settings or get_settings()
    if not settings.smtp_host:
        return 0
    now = now or utcnow()
    recover_stuck(engine, now=now)
    with new_session(engine) as session:
        ids = list(
            session.exec(
                select(EmailMessage.id)
                .where(EmailMessage.status == E.QUEUED.value, _due(now))
                .order_by(EmailMessage.id)
                .limit(limit)
            )
        )
    sent = 0
    for email_id in ids:
        claim = _claim(engine, email_id, now, settings)
        if claim is None:
            continue  # another worker has it
        message, attempt, kind = claim
        failure = None
        try:
            deliver(message, settings)
        except Exception as exc:  # noqa: BLE001 - recorded on the row, never raised into billing
            failure = classify(exc)
        with new_session(engine) as session, session.begin():
            outcome = _record(session, email_id, attempt, now, failure)
        if failure is None:
            sent += 1
            if not outcome:
                log.warning("email %s was sent, but its row had been recovered meanwhile", email_id)
            continue
        log.warning(
            "email %s (%s) could not be sent, attempt %d of %d, %s: %s",
            email_id,
            kind,
            attempt,
            MAX_ATTEMPTS,
            {E.QUEUED: "will retry", E.FAILED: "failed"}.get(outcome, "recovered meanwhile"),
            failure.error,
        )
        if failure.unreachable:
            break  # the rest of the pass would wait on the same server
    return sent


def resend(session: Session, *, merchant_id: int, email_id: int, smtp_configured: bool) -> bool:
    """A failed email of this merchant back to the queue with its attempts reset (or back to the
    outbox, when no SMTP server is configured any more). False when the row is not a failed email
    of this merchant (the caller reports it)."""
    return bool(
        move(
            session,
            E.FAILED,
            E.QUEUED if smtp_configured else E.OUTBOX,
            where=[_table.c.id == email_id, _table.c.merchant_id == merchant_id],
            attempts=0,
            next_attempt_at=None,
            claimed_at=None,
            error="",
        )
    )
