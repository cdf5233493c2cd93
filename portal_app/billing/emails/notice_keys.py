"""Natural keys of the notices the billing engine sends on its own, and the insert that honours them.

EmailMessage.notice_key is unique: recording a notice whose key exists already does nothing, so two
runners racing past every other guard (no runner lock, a check-then-insert read before the other's
commit) still send it once. Emails a person asks for (invitations, new links, a cancellation they
confirm) carry no key: asking twice means sending twice.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session

from portal_app.models import EmailMessage


def card_expiring_key(card_id: int, exp_year: int, exp_month: int) -> str:
    """One warning per card per expiry (a card whose expiry the processor updates is warned again)."""
    return f"card_expiring:{card_id}:{exp_year:04d}-{exp_month:02d}"


def receipt_key(invoice_id: int) -> str:
    """One receipt per paid invoice (an invoice is paid once; later money is refunded, not receipted)."""
    return f"receipt:{invoice_id}"


def payment_failed_key(attempt_id: int) -> str:
    """One failure notice per failed automatic attempt (each dunning retry is a new attempt)."""
    return f"payment_failed:{attempt_id}"


def trial_will_end_key(subscription_id: int, trial_end) -> str:
    """One reminder per trial (a trial_end moved later is a new trial to remind of)."""
    return f"trial_will_end:{subscription_id}:{trial_end:%Y-%m-%d}"


def credit_note_key(credit_note_id: int) -> str:
    """One notice per credit note (a refund's success is recorded once; a replay finds it settled)."""
    return f"credit_note:{credit_note_id}"


def insert_emails(session: Session, rows: list[dict[str, Any]]) -> list[int]:
    """INSERT email_message rows; a row whose notice_key exists already is skipped (ON CONFLICT DO
    NOTHING: on PostgreSQL a racing uncommitted twin makes this wait for its outcome). Returns the ids
    inserted, in no particular order."""
    if not rows:
        return []
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    table = EmailMessage.__table__
    stmt = insert(table).on_conflict_do_nothing(index_elements=["notice_key"]).returning(table.c.id)
    if len(rows) == 1:
        return list(session.execute(stmt.values(**rows[0])).scalars())
    return list(session.execute(stmt, rows).scalars())
