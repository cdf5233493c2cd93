"""The subscriber timeline: who did what, with JSON details."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlmodel import Session

from portal_app.models import AuditEvent, utcnow


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
    return [{**row, "detail": json.dumps(row.get("detail") or {}, sort_keys=True, default=str)} for row in rows]
