"""Shared pieces of the billing services: named failures, tenancy-scoped loads, audit events.

Every service takes the caller's merchant_id and loads rows through `get_scoped`, so an id that
belongs to another merchant behaves exactly like an id that does not exist.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlmodel import Session, select

from portal_app.models import AuditEvent, utcnow

T = TypeVar("T")

BACKDATED = timedelta(hours=1)


class BillingError(Exception):
    """A failure the caller may show as is: `message` is written for the person on the page."""

    code = "billing_error"

    def __init__(self, message: str, *, code: str | None = None, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field
        if code:
            self.code = code


class NotFound(BillingError):
    """No such row for this merchant (another merchant's id is reported the same way)."""

    code = "not_found"


class NotAllowed(BillingError):
    """The action is not allowed in the row's current state or by the plan's policy."""

    code = "not_allowed"


def get_scoped(session: Session, model: type[T], row_id: int, merchant_id: int, *, for_update: bool = False) -> T:
    """Load one row of `model` owned by `merchant_id`, or raise NotFound.

    for_update locks the row on PostgreSQL (SQLite's BEGIN IMMEDIATE already serializes writers).
    """
    if row_id is None or merchant_id is None:
        raise NotFound(f"{model.__name__} not found")
    stmt = select(model).where(model.id == row_id, model.merchant_id == merchant_id)
    if for_update:
        stmt = stmt.with_for_update()
        # Re-read even if the identity map already holds the row: we want the locked version.
        stmt = stmt.execution_options(populate_existing=True)
    row = session.exec(stmt).first()
    if row is None:
        raise NotFound(f"{model.__name__} not found")
    return row


def row_id(obj_or_id: Any) -> int:
    """Accept a row or its id (services take either)."""
    return obj_or_id if isinstance(obj_or_id, int) else obj_or_id.id


def audit(
    session: Session,
    *,
    merchant_id: int,
    subscriber_id: int | None,
    actor: str,
    kind: str,
    detail: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> AuditEvent:
    """Append one event to the subscriber's timeline (who did what, with JSON details)."""
    event = AuditEvent(
        merchant_id=merchant_id,
        subscriber_id=subscriber_id,
        actor=actor,
        kind=kind,
        detail=json.dumps(detail or {}, sort_keys=True, default=str),
        created_at=now or utcnow(),
    )
    session.add(event)
    return event


def audit_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Audit events as plain dicts for bulk inserts (same encoding as `audit`)."""
    return [
        {**row, "detail": json.dumps(row.get("detail") or {}, sort_keys=True, default=str)}
        for row in rows
    ]


def is_postgres(session_or_engine: Session | sa.Engine) -> bool:
    bind = session_or_engine.get_bind() if isinstance(session_or_engine, Session) else session_or_engine
    return bind.dialect.name == "postgresql"


def new_session(engine: sa.Engine) -> Session:
    """A session whose objects stay readable after commit (results outlive transactions)."""
    return Session(engine, expire_on_commit=False)


def send_subscriber_email(
    session: Session,
    *,
    merchant,
    subscriber,
    kind: str,
    context: dict[str, Any],
    now: datetime,
    with_portal_link: bool = True,
):
    """Send (or queue in the outbox) one email to a subscriber in their language.

    Fills merchant_name, subscriber_name and, for emails that ask the customer to act, portal_url.
    The message is dated `now` so back-dated runs (demo data) keep a consistent timeline.
    """
    from portal_app.billing.emails import send_email
    from portal_app.billing.portal_links import current_portal_url

    full = {"merchant_name": merchant.name, "subscriber_name": subscriber.name, **context}
    if with_portal_link and "portal_url" not in full:
        full["portal_url"] = current_portal_url(session, subscriber)
    message = send_email(
        session,
        merchant=merchant,
        to_address=subscriber.email,
        kind=kind,
        language=subscriber.language or merchant.default_language or "en",
        context=full,
        subscriber_id=subscriber.id,
    )
    # Back-dated runs (demo data, tests) date the message on their clock. A live run's clock is the
    # wall clock give or take the run's length: no UPDATE then, which keeps bulk receipts cheap.
    if message is not None and abs(message.created_at - now) > BACKDATED:
        message.created_at = now
        session.add(message)
    return message
