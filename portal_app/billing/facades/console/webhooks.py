"""Console webhooks: the merchant's endpoints (add: the signing secret is returned once, delete),
and per endpoint its delivery log with Resend. Every call is scoped by the merchant; ids from the
browser go through parse_id (another merchant's id is reported as not found)."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any

from portal_app import db
from portal_app.billing.facades.console.forms import ConsoleError, actor_for, parse_id
from portal_app.billing.webhooks_out import endpoints, queries
from portal_app.billing.webhooks_out.delivery import MAX_ATTEMPTS, resend_delivery
from portal_app.billing.webhooks_out.events import EVENT_TYPES
from portal_app.models import utcnow

__all__ = ["EVENT_TYPES", "add_endpoint", "endpoint_deliveries", "list_webhook_endpoints", "remove_endpoint", "resend"]


@dataclasses.dataclass(frozen=True)
class EndpointRow:
    id: int
    url: str
    types: str  # "All events" or the list
    enabled: bool
    status: str  # "Enabled" | "Disabled"
    disabled_reason: str
    created: str


@dataclasses.dataclass(frozen=True)
class DeliveryRow:
    id: int
    event_type: str
    event_id: str
    status: str  # pending | sending | delivered | failed
    status_label: str  # "Waiting", "Retrying", "Sending", "Delivered", "Failed"
    status_code: str  # "200", "—"
    latency: str  # "120 ms", "—"
    attempts: str  # "3 of 8"
    next_try: str  # "2026-03-01 12:05 UTC" or ""
    error: str
    can_resend: bool


def _stamp(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else ""


def _status_label(status: str, attempts: int) -> str:
    if status == "pending":
        return "Retrying" if attempts else "Waiting"
    return {"sending": "Sending", "delivered": "Delivered", "failed": "Failed"}.get(status, status)


def _row(view: endpoints.EndpointView) -> EndpointRow:
    return EndpointRow(
        id=view.id,
        url=view.url,
        types=", ".join(view.event_types) if view.event_types else "All events",
        enabled=view.enabled,
        status="Enabled" if view.enabled else "Disabled",
        disabled_reason=view.disabled_reason,
        created=_stamp(view.created_at),
    )


def list_webhook_endpoints(*, merchant_id: int) -> list[EndpointRow]:
    with db.session_scope() as session:
        return [_row(view) for view in endpoints.list_endpoints(session, merchant_id=merchant_id)]


def add_endpoint(*, merchant_id: int, user_id: int, url: Any, event_types: Any = None) -> tuple[EndpointRow, str]:
    """A new endpoint for the merchant: its row and its signing secret (show it once, keep it nowhere)."""
    if event_types is not None and (
        not isinstance(event_types, list)
        or len(event_types) > len(EVENT_TYPES)
        or any(not isinstance(t, str) for t in event_types)
    ):
        raise ConsoleError("Choose event types from the list.", field="event_types")
    with db.session_scope() as session:
        view, secret = endpoints.create_endpoint(
            session, merchant_id=merchant_id, url=url, event_types=event_types or None, actor=actor_for(user_id)
        )
        return _row(view), secret


def remove_endpoint(*, merchant_id: int, user_id: int, endpoint_id: Any) -> None:
    endpoint_id = parse_id(endpoint_id, "webhook endpoint")
    with db.session_scope() as session:
        endpoints.delete_endpoint(session, merchant_id=merchant_id, endpoint_id=endpoint_id, actor=actor_for(user_id))


def endpoint_deliveries(*, merchant_id: int, endpoint_id: Any, limit: int = 50) -> list[DeliveryRow]:
    """The endpoint's delivery log, newest first."""
    endpoint_id = parse_id(endpoint_id, "webhook endpoint")
    with db.session_scope() as session:
        views = queries.list_deliveries(session, merchant_id=merchant_id, endpoint_id=endpoint_id, limit=limit)
    return [
        DeliveryRow(
            id=v.id,
            event_type=v.event_type,
            event_id=v.event_id,
            status=v.status,
            status_label=_status_label(v.status, v.attempts),
            status_code=str(v.last_status_code) if v.last_status_code is not None else "—",
            latency=f"{v.last_latency_ms} ms" if v.last_latency_ms is not None else "—",
            attempts=f"{v.attempts} of {MAX_ATTEMPTS}",
            next_try=_stamp(v.next_attempt_at),
            error=v.last_error,
            can_resend=v.status in ("delivered", "failed"),
        )
        for v in views
    ]


def resend(*, merchant_id: int, user_id: int, delivery_id: Any) -> str:
    """Send a delivery again (same event id); re-enables a disabled endpoint. Returns the notice."""
    delivery_id = parse_id(delivery_id, "webhook delivery")
    with db.session_scope() as session:
        resend_delivery(
            session, merchant_id=merchant_id, delivery_id=delivery_id, actor=actor_for(user_id), now=utcnow()
        )
    return "Queued: it will be sent within a few seconds."
