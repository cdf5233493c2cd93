"""Console outbox: the merchant's emails, newest first, with portal links hidden: the outbox is
page state (pickled by Reflex), and a portal URL opens a portal for 30 days. The profile's
Show/Copy fetch a subscriber's live link on demand instead."""

from __future__ import annotations

import dataclasses
import re
from datetime import datetime
from typing import Any

from sqlmodel import select

from portal_app import db, routes
from portal_app.billing.facades.console.forms import (
    PAGE_SIZE,
    ConsoleError,
)
from portal_app.models import (
    EmailMessage,
)

_PORTAL_LINK = re.compile(re.escape(routes.PORTAL) + r"/[A-Za-z0-9_%-]{16,}")
HIDDEN_LINK = f"{routes.PORTAL}/[link hidden: show or copy it on the subscriber's profile]"


def without_portal_links(text: str) -> str:
    return _PORTAL_LINK.sub(HIDDEN_LINK, text)


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


def list_outbox(*, merchant_id: int, page: Any = 1, page_size: int = PAGE_SIZE) -> tuple[list[OutboxMessage], bool]:
    """The merchant's emails, newest first (the outbox when no SMTP server is configured)."""
    if isinstance(page, bool) or not isinstance(page, int) or not 1 <= page <= 100_000:
        raise ConsoleError("Invalid page.")
    with db.session_scope() as session:
        rows = session.exec(
            select(EmailMessage)
            .where(EmailMessage.merchant_id == merchant_id)
            .order_by(EmailMessage.id.desc())
            .offset((page - 1) * page_size)
            .limit(page_size + 1)
        ).all()
        messages = [
            OutboxMessage(
                m.id,
                m.created_at,
                m.to_address,
                m.subject,
                m.kind,
                m.status,
                without_portal_links(m.body_text),
                m.subscriber_id,
            )
            for m in rows[:page_size]
        ]
        return messages, len(rows) > page_size
