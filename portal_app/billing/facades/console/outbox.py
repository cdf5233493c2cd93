"""Console outbox: the merchant's emails, newest first, with portal links hidden: the outbox is
page state (pickled by Reflex), and a portal URL opens a portal for 30 days. The profile's
Show/Copy fetch a subscriber's live link on demand instead.

Each email says where its delivery stands in the merchant's words (queued, retrying and when,
sent, failed and why), and a failed one can be resent (audited on the subscriber's timeline).
Sent emails are not resent from here: the server took them, and their content may be stale (an old
portal link, an amount since paid); the profile's "Send invitation" and invoice PDFs cover that."""

from __future__ import annotations

import dataclasses
import re
from datetime import datetime
from typing import Any

from babel.dates import format_datetime, format_timedelta
from sqlmodel import select

from portal_app import db, routes
from portal_app.billing.audit import audit
from portal_app.billing.emails.delivery import MAX_ATTEMPTS, resend
from portal_app.billing.emails.status import EmailStatus
from portal_app.billing.errors import NotAllowed
from portal_app.billing.facades.console.forms import (
    PAGE_SIZE,
    ConsoleError,
    actor_for,
    parse_id,
)
from portal_app.billing.tenancy import get_scoped
from portal_app.i18n import language, translate
from portal_app.models import (
    EmailMessage,
    utcnow,
)
from portal_app.settings import get_settings

E = EmailStatus

_PORTAL_LINK = re.compile(re.escape(routes.PORTAL) + r"/[A-Za-z0-9_%-]{16,}")
HIDDEN_LINK = f"{routes.PORTAL}/[link hidden: show or copy it on the subscriber's profile]"


def without_portal_links(text: str) -> str:
    return _PORTAL_LINK.sub(HIDDEN_LINK, text)


_CODE = re.compile(r"(?<!\d)\d{6}(?!\d)")
HIDDEN_CODE = "••••••"


def shown_body(kind: str, text: str) -> str:
    """The body as the outbox shows it: no portal link, and no step-up code (a code confirms a change
    in the subscriber's portal for 10 minutes; it is for the subscriber's eyes only)."""
    text = without_portal_links(text)
    return _CODE.sub(HIDDEN_CODE, text) if kind == "step_up_code" else text


@dataclasses.dataclass(frozen=True)
class OutboxMessage:
    message_id: int
    created_at: datetime
    to_address: str
    subject: str
    kind: str
    status: str
    body_text: str
    subscriber_id: int | None
    status_label: str = ""  # the status in words ("Retrying", "Failed")
    delivery: str = ""  # where delivery stands: "Attempt 2 of 7 failed. Next attempt in 5 minutes (…)."
    error: str = ""  # the mail server's last answer, when there is one to show
    can_resend: bool = False


def _when(value: datetime, now: datetime, lang: str) -> str:
    """ "in 5 minutes (14:35 UTC)" in the merchant's language."""
    relative = format_timedelta(value - now, add_direction=True, locale=lang)
    return f"{relative} ({format_datetime(value, 'HH:mm', tzinfo='UTC', locale=lang)} UTC)"


def delivery_words(m: EmailMessage, *, now: datetime, lang: str = "en") -> tuple[str, str]:
    """(status label, one sentence on where delivery stands) for the outbox."""
    lang = language(lang)
    if m.status == E.OUTBOX:  # the page says once that without SMTP nothing is sent
        return translate(lang, "console", "Not sent"), ""
    if m.status == E.QUEUED and m.attempts == 0:
        return translate(lang, "console", "Queued"), translate(lang, "console", "It will be sent within a minute.")
    if m.status == E.QUEUED:
        due = m.next_attempt_at or now
        return translate(lang, "console", "Retrying"), translate(
            lang,
            "console",
            "Attempt %(attempt)s of %(limit)s did not go through. Next attempt %(when)s.",
            attempt=m.attempts,
            limit=MAX_ATTEMPTS,
            when=_when(max(due, now), now, lang),
        )
    if m.status == E.SENDING:
        return translate(lang, "console", "Sending"), translate(
            lang, "console", "Being handed to your mail server now (attempt %(attempt)s).", attempt=m.attempts
        )
    if m.status == E.SENT:
        return translate(lang, "console", "Sent"), translate(
            lang, "console", "Accepted by your mail server %(when)s.", when=_when(m.sent_at or now, now, lang)
        )
    if m.status == E.FAILED and m.attempts >= MAX_ATTEMPTS:
        return translate(lang, "console", "Failed"), translate(
            lang,
            "console",
            "Not sent: %(attempts)s attempts did not go through. Resend it to try again.",
            attempts=m.attempts,
        )
    if m.status == E.FAILED:
        return translate(lang, "console", "Failed"), translate(
            lang, "console", "Not sent: the mail server refused this email for good. Check the address, then resend it."
        )
    return m.status, ""


def list_outbox(
    *, merchant_id: int, page: Any = 1, page_size: int = PAGE_SIZE, now: datetime | None = None, lang: str = "en"
) -> tuple[list[OutboxMessage], bool]:
    """The merchant's emails, newest first (the outbox when no SMTP server is configured)."""
    if isinstance(page, bool) or not isinstance(page, int) or not 1 <= page <= 100_000:
        raise ConsoleError("Invalid page.")
    now = now or utcnow()
    with db.session_scope() as session:
        rows = session.exec(
            select(EmailMessage)
            .where(EmailMessage.merchant_id == merchant_id)
            .order_by(EmailMessage.id.desc())
            .offset((page - 1) * page_size)
            .limit(page_size + 1)
        ).all()
        messages = []
        for m in rows[:page_size]:
            label, delivery = delivery_words(m, now=now, lang=lang)
            messages.append(
                OutboxMessage(
                    m.id,
                    m.created_at,
                    m.to_address,
                    m.subject,
                    m.kind,
                    m.status,
                    shown_body(m.kind, m.body_text),
                    m.subscriber_id,
                    status_label=label,
                    delivery=delivery,
                    error=m.error if m.status in (E.QUEUED, E.FAILED) else "",
                    can_resend=m.status == E.FAILED,
                )
            )
        return messages, len(rows) > page_size


def resend_email(*, merchant_id: int, user_id: int, email_id: Any, lang: str = "en") -> str:
    """Send a failed email of this merchant again (attempts start over); returns what to tell the
    merchant. Another merchant's id is not found; an email that did not fail is not resent."""
    email_id = parse_id(email_id, "email")
    smtp_configured = bool(get_settings().smtp_host)
    lang = language(lang)
    with db.session_scope() as session:
        row = get_scoped(session, EmailMessage, email_id, merchant_id, for_update=True)
        if not resend(session, merchant_id=merchant_id, email_id=email_id, smtp_configured=smtp_configured):
            raise NotAllowed(translate(lang, "console", "Only an email that failed can be resent."))
        audit(
            session,
            merchant_id=merchant_id,
            subscriber_id=row.subscriber_id,
            actor=actor_for(user_id),
            kind="email_resent",
            detail={"email": email_id, "kind": row.kind, "subject": row.subject},
        )
    if smtp_configured:
        return translate(lang, "console", "The email is queued again: it will be sent within a minute.")
    return translate(lang, "console", "No mail server is configured: the email is kept here, not sent.")
