"""The email outbox: every email is recorded as an EmailMessage row, then delivered over SMTP.

The row is the record of what we told the customer, and the outbox when no SMTP server is
configured. With SMTP configured the row is queued and delivery.py sends it after the caller's
transaction (retried with backoff, recovered after a crash); a delivery failure is recorded on the
row, never raised into the billing code that asked for it.
"""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from portal_app.billing.emails.delivery import deliver_queued_emails
from portal_app.billing.emails.logo import email_logo
from portal_app.billing.emails.notice_keys import insert_emails
from portal_app.billing.emails.render import render_email
from portal_app.billing.emails.status import EmailStatus
from portal_app.models import EmailMessage, Merchant, utcnow
from portal_app.settings import Settings, get_settings

__all__ = ["deliver_queued_emails", "queue_emails", "send_email"]


def merchant_look(merchant: Merchant) -> dict[str, Any]:
    """The merchant's brand colour and logo, as render_email takes them."""
    return {"brand_color": merchant.brand_color or "", "logo": email_logo(merchant.logo_png)}


def _first_status(settings: Settings) -> str:
    return (EmailStatus.QUEUED if settings.smtp_host else EmailStatus.OUTBOX).value


def send_email(
    session: Session,
    *,
    merchant: Merchant,
    to_address: str,
    kind: str,
    language: str,
    context: dict[str, Any],
    subscriber_id: int | None = None,
    settings: Settings | None = None,
    notice_key: str | None = None,
) -> EmailMessage | None:
    """Record one email (flushed, not committed): "queued" when SMTP is configured, else "outbox".

    Delivery happens after the caller commits, in delivery.deliver_queued_emails(): an SMTP server never
    holds a billing transaction (or SQLite's write lock) open. Rendering problems (unknown kind,
    missing context) raise, because they are bugs in the caller. With a notice_key (emails/
    notice_keys.py) a notice already recorded under that key is not recorded again: returns None.
    """
    to_address = (to_address or "").strip()
    if not to_address or "\n" in to_address or "\r" in to_address:
        raise ValueError("a single recipient address is required")
    settings = settings or get_settings()
    full_context = {"merchant_name": merchant.name, "support_email": merchant.support_email, **context}
    subject, text, body_html = render_email(kind, language, full_context, **merchant_look(merchant))
    row = EmailMessage(
        merchant_id=merchant.id,
        subscriber_id=subscriber_id,
        kind=kind,
        to_address=to_address,
        subject=subject,
        body_text=text,
        body_html=body_html,
        status=_first_status(settings),
        notice_key=notice_key,
    )
    if notice_key is not None:
        inserted = insert_emails(session, [row.model_dump(exclude={"id"})])
        return session.get(EmailMessage, inserted[0]) if inserted else None
    session.add(row)
    session.flush()
    return row


def queue_emails(session: Session, emails: list[dict[str, Any]], *, settings: Settings | None = None) -> int:
    """Record many emails in one INSERT (a billing run's receipts). Each dict has merchant,
    to_address, kind, language, context, and optionally subscriber_id, created_at and notice_key
    (an email whose notice_key is recorded already is skipped)."""
    settings = settings or get_settings()
    status = _first_status(settings)
    rows = []
    for email in emails:
        merchant = email["merchant"]
        context = {"merchant_name": merchant.name, "support_email": merchant.support_email, **email["context"]}
        subject, text, body_html = render_email(email["kind"], email["language"], context, **merchant_look(merchant))
        rows.append(
            {
                "merchant_id": merchant.id,
                "subscriber_id": email.get("subscriber_id"),
                "kind": email["kind"],
                "to_address": email["to_address"].strip(),
                "subject": subject,
                "body_text": text,
                "body_html": body_html,
                "status": status,
                "error": "",
                "attempts": 0,
                "created_at": email.get("created_at") or utcnow(),
                "notice_key": email.get("notice_key"),
            }
        )
    return len(insert_emails(session, rows))
