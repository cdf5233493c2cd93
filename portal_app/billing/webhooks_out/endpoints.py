"""A merchant's webhook endpoints: create (the signing secret is returned; the console shows it
once), list, delete, and disable/enable (disabling is the delivery's job after persistent failure).

The secret is Standard Webhooks' `whsec_` + base64 of 24 random bytes. It is stored as is: we need
it to sign, and it only lets a receiver check that a request came from us.
"""

from __future__ import annotations

import base64
import dataclasses
import secrets
from collections.abc import Iterable
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session, select

from portal_app.billing.audit import audit
from portal_app.billing.errors import BillingError, NotFound
from portal_app.billing.webhooks_out.events import EVENT_TYPES
from portal_app.billing.webhooks_out.urls import check_endpoint_url
from portal_app.models import Merchant, WebhookDelivery, WebhookEndpoint, utcnow
from portal_app.settings import get_settings

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 24
MAX_ENDPOINTS = 16  # per merchant, deleted ones not counted


class WebhookEndpointError(BillingError):
    """An endpoint that cannot be created as asked (bad URL, unknown event type, too many)."""

    code = "invalid_request"


@dataclasses.dataclass(frozen=True)
class EndpointView:
    """An endpoint as the console and the API list it (never the secret)."""

    id: int
    url: str
    event_types: tuple[str, ...]  # empty: every type
    enabled: bool
    disabled_at: datetime | None
    disabled_reason: str
    created_at: datetime


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def clean_event_types(value: object) -> tuple[str, ...]:
    """None or [] = every type; else known types, deduplicated, in EVENT_TYPES order."""
    if value is None:
        return ()
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise WebhookEndpointError("event_types must be a list of event types.", field="event_types")
    chosen = list(value)
    unknown = [t for t in chosen if not isinstance(t, str) or t not in EVENT_TYPES]
    if unknown:
        raise WebhookEndpointError(
            f"Unknown event type {str(unknown[0])[:60]!r}; known: {', '.join(EVENT_TYPES)}.", field="event_types"
        )
    return tuple(t for t in EVENT_TYPES if t in chosen)


def is_production() -> bool:
    return get_settings().environment == "production"


def create_endpoint(
    session: Session,
    *,
    merchant_id: int,
    url: object,
    event_types: object = None,
    actor: str,
    now: datetime | None = None,
) -> tuple[EndpointView, str]:
    """A new enabled endpoint: its view and its signing secret. Only events recorded from now on
    are delivered to it."""
    now = now or utcnow()
    if session.get(Merchant, merchant_id) is None:
        raise NotFound("No such merchant.")
    url = check_endpoint_url(url, production=is_production())
    types = clean_event_types(event_types)
    live = session.execute(
        sa.select(sa.func.count())
        .select_from(WebhookEndpoint)
        .where(WebhookEndpoint.merchant_id == merchant_id, WebhookEndpoint.deleted_at.is_(None))
    ).scalar_one()
    if live >= MAX_ENDPOINTS:
        raise WebhookEndpointError(f"At most {MAX_ENDPOINTS} endpoints; delete one first.", field="url")
    secret = new_secret()
    row = WebhookEndpoint(
        merchant_id=merchant_id,
        url=url,
        event_types=",".join(types),
        secret=secret,
        created_by=actor,
        created_at=now,
    )
    session.add(row)
    session.flush()
    _audit(session, row, actor, "webhook_endpoint_created", now)
    return endpoint_view(row), secret


def list_endpoints(session: Session, *, merchant_id: int) -> list[EndpointView]:
    """The merchant's endpoints (not deleted), oldest first."""
    rows = session.exec(
        select(WebhookEndpoint)
        .where(WebhookEndpoint.merchant_id == merchant_id, WebhookEndpoint.deleted_at.is_(None))
        .order_by(WebhookEndpoint.id)
    ).all()
    return [endpoint_view(row) for row in rows]


def get_endpoint(session: Session, *, merchant_id: int, endpoint_id: object, for_update: bool = False):
    """The merchant's live endpoint row, or NotFound (another merchant's, deleted, or not an id)."""
    if isinstance(endpoint_id, bool) or not isinstance(endpoint_id, int):
        raise NotFound("No such webhook endpoint.")
    stmt = select(WebhookEndpoint).where(
        WebhookEndpoint.id == endpoint_id,
        WebhookEndpoint.merchant_id == merchant_id,
        WebhookEndpoint.deleted_at.is_(None),
    )
    if for_update:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    row = session.exec(stmt).first()
    if row is None:
        raise NotFound("No such webhook endpoint.")
    return row


def delete_endpoint(
    session: Session, *, merchant_id: int, endpoint_id: object, actor: str, now: datetime | None = None
) -> EndpointView:
    """Delete (NotFound for another merchant's): nothing more is sent to it; its deliveries waiting
    for a try are failed ("endpoint deleted"). The row stays, marked, for the audit trail. Returns the
    endpoint as it was listed."""
    now = now or utcnow()
    row = get_endpoint(session, merchant_id=merchant_id, endpoint_id=endpoint_id, for_update=True)
    listed = endpoint_view(row)
    row.deleted_at = now
    row.enabled = False
    session.add(row)
    table = WebhookDelivery.__table__
    session.execute(
        sa.update(table)
        .where(table.c.endpoint_id == row.id, table.c.status == "pending")
        .values(status="failed", next_attempt_at=None, last_error="endpoint deleted")
    )
    session.flush()
    _audit(session, row, actor, "webhook_endpoint_deleted", now)
    return listed


def enable_endpoint(
    session: Session, *, merchant_id: int, endpoint_id: object, actor: str, now: datetime | None = None
) -> EndpointView:
    """Turn a disabled endpoint back on: new events reach it again, and deliveries still pending
    are tried at once."""
    now = now or utcnow()
    row = get_endpoint(session, merchant_id=merchant_id, endpoint_id=endpoint_id, for_update=True)
    if not row.enabled:
        row.enabled, row.disabled_at, row.disabled_reason = True, None, ""
        session.add(row)
        table = WebhookDelivery.__table__
        session.execute(
            sa.update(table)
            .where(table.c.endpoint_id == row.id, table.c.status == "pending")
            .values(next_attempt_at=now)
        )
        session.flush()
        _audit(session, row, actor, "webhook_endpoint_enabled", now)
    return endpoint_view(row)


def disable_endpoint(session: Session, row: WebhookEndpoint, *, reason: str, now: datetime) -> bool:
    """Stop sending to a live endpoint (locked by the caller). Returns whether it was enabled."""
    if not row.enabled or row.deleted_at is not None:
        return False
    row.enabled, row.disabled_at, row.disabled_reason = False, now, reason[:300]
    session.add(row)
    session.flush()
    _audit(session, row, "system", "webhook_endpoint_disabled", now, reason=reason)
    return True


def endpoint_view(row: WebhookEndpoint) -> EndpointView:
    return EndpointView(
        id=row.id,
        url=row.url,
        event_types=tuple(t for t in row.event_types.split(",") if t),
        enabled=row.enabled,
        disabled_at=row.disabled_at,
        disabled_reason=row.disabled_reason,
        created_at=row.created_at,
    )


def _audit(session: Session, row: WebhookEndpoint, actor: str, kind: str, now: datetime, **extra) -> None:
    audit(
        session,
        merchant_id=row.merchant_id,
        subscriber_id=None,
        actor=actor,
        kind=kind,
        detail={"endpoint_id": row.id, "url": row.url, **extra},
        now=now,
    )
