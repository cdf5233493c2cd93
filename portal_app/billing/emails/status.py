"""The statuses of an email row and the only legal moves between them.

Every status change of an EmailMessage goes through move(): one conditional UPDATE that names the
status the row must still be in, so a move that lost a race (another worker claimed the row, a
recovery took it back) changes nothing and says so (it returns how many rows moved).

    outbox   no SMTP server configured: the row is the email, read in the console (final)
    queued   waiting for delivery; next_attempt_at (null: now) says when it may be tried
    sending  claimed by one worker (claimed_at) for one SMTP attempt
    sent     accepted by the SMTP server (final)
    failed   refused for good, or out of attempts; a merchant may resend it (back to queued)
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from portal_app.billing.statuses import InvalidTransition
from portal_app.models import EmailMessage


class EmailStatus(StrEnum):
    OUTBOX = "outbox"
    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"


E = EmailStatus

ALLOWED_MOVES: dict[EmailStatus, frozenset[EmailStatus]] = {
    E.OUTBOX: frozenset(),
    E.QUEUED: frozenset({E.SENDING}),  # a worker claims it
    # the attempt's outcome; or, held past the timeout (a crash mid-send), recovered
    E.SENDING: frozenset({E.SENT, E.QUEUED, E.FAILED}),
    E.SENT: frozenset(),
    # a merchant's Resend: to the queue, or back to the outbox when no SMTP server is configured any more
    E.FAILED: frozenset({E.QUEUED, E.OUTBOX}),
}


def check_move(current: str, new: str) -> None:
    if EmailStatus(new) not in ALLOWED_MOVES[EmailStatus(current)]:
        raise InvalidTransition("EmailStatus", current, new)


def move(
    session: Session,
    current: EmailStatus,
    new: EmailStatus,
    *,
    where: Iterable[Any] = (),
    **values: Any,
) -> int:
    """Move the rows in `current` that match `where` to `new`, setting `values`; returns how many moved.

    The UPDATE itself checks the current status, so it is a compare-and-set: two callers racing on one
    row never both move it (PostgreSQL's row lock re-checks the condition; SQLite has one writer)."""
    check_move(current, new)
    table = EmailMessage.__table__
    return session.execute(
        sa.update(table)
        .where(table.c.status == EmailStatus(current).value, *where)
        .values(status=EmailStatus(new).value, **values)
    ).rowcount
