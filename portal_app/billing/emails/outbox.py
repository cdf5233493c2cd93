"""The email outbox: every email is recorded as an EmailMessage row, then delivered over SMTP.

The row is the record of what we told the customer, and the outbox when no SMTP server is
configured. With SMTP configured the row is marked sent or failed; a delivery failure is logged
and recorded, never raised into the billing code that asked for it.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from email.message import EmailMessage as MimeMessage
from email.utils import formataddr, formatdate, make_msgid
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, select

from portal_app.billing.emails.notice_keys import insert_emails
from portal_app.billing.emails.render import render_email
from portal_app.db import new_session
from portal_app.models import EmailMessage, Merchant, utcnow
from portal_app.settings import Settings, get_settings

log = logging.getLogger(__name__)

SMTP_TIMEOUT_SECONDS = 15


def _mime(row: EmailMessage, merchant: Merchant, settings: Settings) -> MimeMessage:
    message = MimeMessage()
    message["Subject"] = row.subject
    message["From"] = formataddr((" ".join(merchant.name.split()), settings.email_from))
    message["To"] = row.to_address
    if merchant.support_email:
        message["Reply-To"] = merchant.support_email
    message["Date"] = formatdate(localtime=False, usegmt=True)
    message["Message-ID"] = make_msgid(domain=settings.email_from.rpartition("@")[2] or None)
    message.set_content(row.body_text)
    if row.body_html:
        message.add_alternative(row.body_html, subtype="html")
    return message


def _deliver(message: MimeMessage, settings: Settings) -> None:
    """Hand the message to the configured SMTP server (implicit TLS on port 465, else STARTTLS)."""
    tls = ssl.create_default_context()
    if settings.smtp_port == 465:
        client: smtplib.SMTP = smtplib.SMTP_SSL(
            settings.smtp_host, settings.smtp_port, timeout=SMTP_TIMEOUT_SECONDS, context=tls
        )
    else:
        client = smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=SMTP_TIMEOUT_SECONDS)
    with client:
        if settings.smtp_starttls and settings.smtp_port != 465:
            client.starttls(context=tls)
        if settings.smtp_username:
            client.login(settings.smtp_username, settings.smtp_password)
        client.send_message(message)


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

    Delivery happens after the caller commits, in deliver_queued_emails(): an SMTP server never
    holds a billing transaction (or SQLite's write lock) open. Rendering problems (unknown kind,
    missing context) raise, because they are bugs in the caller. With a notice_key (emails/
    notice_keys.py) a notice already recorded under that key is not recorded again: returns None.
    """
    to_address = (to_address or "").strip()
    if not to_address or "\n" in to_address or "\r" in to_address:
        raise ValueError("a single recipient address is required")
    settings = settings or get_settings()
    full_context = {"merchant_name": merchant.name, "support_email": merchant.support_email, **context}
    subject, text, body_html = render_email(kind, language, full_context)
    row = EmailMessage(
        merchant_id=merchant.id,
        subscriber_id=subscriber_id,
        kind=kind,
        to_address=to_address,
        subject=subject,
        body_text=text,
        body_html=body_html,
        status="queued" if settings.smtp_host else "outbox",
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
    status = "queued" if settings.smtp_host else "outbox"
    rows = []
    for email in emails:
        merchant = email["merchant"]
        context = {"merchant_name": merchant.name, "support_email": merchant.support_email, **email["context"]}
        subject, text, body_html = render_email(email["kind"], email["language"], context)
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
                "created_at": email.get("created_at") or utcnow(),
                "notice_key": email.get("notice_key"),
            }
        )
    return len(insert_emails(session, rows))


def deliver_queued_emails(engine, *, settings: Settings | None = None, limit: int = 200) -> int:
    """Send queued emails over SMTP, each claimed by a conditional UPDATE (queued -> sending) so
    two workers never send one twice. Marks each sent or failed; never raises. Returns how many
    were sent."""
    settings = settings or get_settings()
    if not settings.smtp_host:
        return 0
    table = EmailMessage.__table__
    with new_session(engine) as session:
        ids = list(
            session.exec(
                select(EmailMessage.id).where(EmailMessage.status == "queued").order_by(EmailMessage.id).limit(limit)
            )
        )
    sent = 0
    for email_id in ids:
        with new_session(engine) as session, session.begin():
            claimed = session.execute(
                sa.update(table).where(table.c.id == email_id, table.c.status == "queued").values(status="sending")
            ).rowcount
            row = session.get(EmailMessage, email_id) if claimed else None
            merchant = session.get(Merchant, row.merchant_id) if row else None
            message = _mime(row, merchant, settings) if row else None
        if message is None:
            continue
        try:
            _deliver(message, settings)
        except Exception as exc:  # noqa: BLE001 - recorded on the row, never raised into billing
            log.warning("email %s could not be sent: %s", email_id, exc)
            values = {"status": "failed", "error": f"{type(exc).__name__}: {exc}"[:500]}
        else:
            values = {"status": "sent", "sent_at": utcnow(), "error": ""}
            sent += 1
        with new_session(engine) as session, session.begin():
            session.execute(sa.update(table).where(table.c.id == email_id).values(**values))
    return sent
