"""Reading the outbox: the merchant's events (GET /events) and an endpoint's delivery log (console)."""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from portal_app.billing.errors import BillingError
from portal_app.billing.webhooks_out.endpoints import get_endpoint
from portal_app.billing.webhooks_out.events import EVENT_TYPES
from portal_app.models import OutgoingEvent, WebhookAttempt, WebhookDelivery

MAX_LIMIT = 101  # a page of 100, plus one row that tells whether more follow


class EventQueryError(BillingError):
    code = "invalid_request"


@dataclasses.dataclass(frozen=True)
class EventView:
    """One event as GET /events returns it; `cursor` is the value for starting_after."""

    cursor: int
    id: str  # evt_..., the webhook-id of its deliveries
    type: str
    created_at: datetime
    payload: dict[str, Any]  # {"type", "timestamp", "data": {"object", "previous_attributes"?}}


@dataclasses.dataclass(frozen=True)
class DeliveryView:
    """One row of an endpoint's delivery log."""

    id: int
    event_id: str
    event_type: str
    status: str  # pending | sending | delivered | failed
    attempts: int
    last_status_code: int | None
    last_latency_ms: int | None
    last_error: str
    next_attempt_at: datetime | None
    delivered_at: datetime | None
    created_at: datetime


@dataclasses.dataclass(frozen=True)
class AttemptView:
    attempt: int
    status_code: int | None
    latency_ms: int
    error: str
    at: datetime


def list_events(
    session: Session, *, merchant_id: int, limit: int = 20, starting_after: int | None = None, type: str | None = None
) -> list[EventView]:
    """The merchant's events, newest first; `starting_after` is the cursor of the last one seen."""
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise EventQueryError(f"limit must be between 1 and {MAX_LIMIT}.", field="limit")
    if starting_after is not None and (isinstance(starting_after, bool) or not isinstance(starting_after, int)):
        raise EventQueryError("starting_after must be an event cursor.", field="starting_after")
    if type is not None and type not in EVENT_TYPES:
        raise EventQueryError(f"Unknown event type; known: {', '.join(EVENT_TYPES)}.", field="type")
    t = OutgoingEvent.__table__
    stmt = sa.select(t).where(t.c.merchant_id == merchant_id)
    if starting_after is not None:
        stmt = stmt.where(t.c.id < starting_after)
    if type is not None:
        stmt = stmt.where(t.c.type == type)
    rows = session.execute(stmt.order_by(t.c.id.desc()).limit(limit)).all()
    return [EventView(r.id, r.public_id, r.type, r.created_at, json.loads(r.payload)) for r in rows]


def list_deliveries(session: Session, *, merchant_id: int, endpoint_id: object, limit: int = 50) -> list[DeliveryView]:
    """An endpoint's deliveries, newest first (NotFound for another merchant's endpoint)."""
    endpoint = get_endpoint(session, merchant_id=merchant_id, endpoint_id=endpoint_id)
    d, e = WebhookDelivery.__table__, OutgoingEvent.__table__
    rows = session.execute(
        sa.select(d, e.c.public_id, e.c.type)
        .join(e, e.c.id == d.c.event_id)
        .where(d.c.endpoint_id == endpoint.id, d.c.merchant_id == merchant_id)
        .order_by(d.c.id.desc())
        .limit(min(max(int(limit), 1), 500))
    ).all()
    return [
        DeliveryView(
            id=r.id,
            event_id=r.public_id,
            event_type=r.type,
            status=r.status,
            attempts=r.attempts,
            last_status_code=r.last_status_code,
            last_latency_ms=r.last_latency_ms,
            last_error=r.last_error,
            next_attempt_at=r.next_attempt_at if r.status == "pending" else None,
            delivered_at=r.delivered_at,
            created_at=r.created_at,
        )
        for r in rows
    ]


def list_attempts(session: Session, *, merchant_id: int, delivery_id: int) -> list[AttemptView]:
    """Every HTTP attempt of one of the merchant's deliveries, oldest first (empty for another's)."""
    a, d = WebhookAttempt.__table__, WebhookDelivery.__table__
    rows = session.execute(
        sa.select(a)
        .join(d, d.c.id == a.c.delivery_id)
        .where(a.c.delivery_id == delivery_id, d.c.merchant_id == merchant_id)
        .order_by(a.c.id)
    ).all()
    return [AttemptView(r.attempt, r.status_code, r.latency_ms, r.error, r.created_at) for r in rows]
