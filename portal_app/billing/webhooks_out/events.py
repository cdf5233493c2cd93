"""The event outbox: each change a merchant may hear about is written as an OutgoingEvent in the
transaction of the change (so a rollback leaves no event), with one pending WebhookDelivery per
enabled endpoint of that merchant subscribed to its type (endpoints created later never get older
events). Delivery happens later, in the billing runner (delivery.py), never in the caller's request.

The domain reports changes at their roots: statuses.transition() and end_subscriptions(), the
invoice finalize/settle functions and their bulk twins, subscriptions (start, cancel at period end,
undo), the default card, portal link regeneration. Bulk paths record many events in one executemany.

Payload: {"type", "timestamp", "data": {"object": <objects.py shape>, "previous_attributes": {...}}},
never a portal URL or token.
"""

from __future__ import annotations

import dataclasses
import json
import secrets
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, get_args

import sqlalchemy as sa
from sqlmodel import Session

from portal_app.billing.objects import (
    ApiObject,
    EventType,
    PaymentMethodObject,
    SubscriberObject,
    SubscriptionObject,
    invoice_objects,
)
from portal_app.models import Invoice, OutgoingEvent, Subscription, WebhookDelivery, WebhookEndpoint, utcnow

# The event types: one list, objects.EventType (also the OpenAPI enum).
EVENT_TYPES: tuple[str, ...] = get_args(EventType)
EVENT_ID_PREFIX = "evt_"
_INVOICE_EVENT_OF_STATUS = {"open": "invoice.finalized", "paid": "invoice.paid"}


@dataclasses.dataclass(frozen=True)
class NewEvent:
    """One event to record: whose, which type, the object as the API shows it, what changed."""

    merchant_id: int
    type: str
    object: ApiObject
    previous_attributes: dict[str, Any] | None = None


def new_event_id() -> str:
    return EVENT_ID_PREFIX + secrets.token_hex(12)  # 96 random bits


def subscribed(event_types: str, event_type: str) -> bool:
    """Whether an endpoint's comma-separated type list (empty: every type) includes event_type."""
    return not event_types or event_type in event_types.split(",")


def payload_json(event: NewEvent, now: datetime) -> str:
    data: dict[str, Any] = {"object": event.object.model_dump(mode="json")}
    if event.previous_attributes:
        data["previous_attributes"] = _jsonable(event.previous_attributes)
    body = {"type": event.type, "timestamp": now.isoformat(), "data": data}
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False)


def _jsonable(values: dict[str, Any]) -> dict[str, Any]:
    return {key: value.isoformat() if isinstance(value, datetime) else value for key, value in values.items()}


def record_events(session: Session, events: Sequence[NewEvent], *, now: datetime | None = None) -> list[str]:
    """Write the events and their deliveries (two INSERTs however many); returns their public ids."""
    if not events:
        return []
    now = now or utcnow()
    for event in events:
        if event.type not in EVENT_TYPES:
            raise ValueError(f"unknown event type {event.type!r}")
    rows = [
        {
            "public_id": new_event_id(),
            "merchant_id": event.merchant_id,
            "type": event.type,
            "payload": payload_json(event, now),
            "created_at": now,
        }
        for event in events
    ]
    table = OutgoingEvent.__table__
    ids = dict(session.execute(sa.insert(table).returning(table.c.public_id, table.c.id), rows).all())
    endpoints = _enabled_endpoints(session, {event.merchant_id for event in events})
    deliveries = [
        {
            "merchant_id": row["merchant_id"],
            "event_id": ids[row["public_id"]],
            "endpoint_id": endpoint_id,
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": now,
            "last_error": "",
            "created_at": now,
        }
        for row in rows
        for endpoint_id, event_types in endpoints.get(row["merchant_id"], ())
        if subscribed(event_types, row["type"])
    ]
    if deliveries:
        session.execute(sa.insert(WebhookDelivery.__table__), deliveries)
    return [row["public_id"] for row in rows]


def record_event(
    session: Session,
    *,
    merchant_id: int,
    type: str,
    obj: ApiObject,
    previous_attributes: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> str:
    """Record one event (see record_events); returns its public id."""
    return record_events(session, [NewEvent(merchant_id, type, obj, previous_attributes)], now=now)[0]


def _enabled_endpoints(session: Session, merchant_ids: Iterable[int]) -> dict[int, list[tuple[int, str]]]:
    ep = WebhookEndpoint.__table__
    found: dict[int, list[tuple[int, str]]] = {}
    for endpoint_id, merchant_id, event_types in session.execute(
        sa.select(ep.c.id, ep.c.merchant_id, ep.c.event_types)
        .where(ep.c.merchant_id.in_(sorted(set(merchant_ids))), ep.c.enabled.is_(True), ep.c.deleted_at.is_(None))
        .order_by(ep.c.id)
    ):
        found.setdefault(merchant_id, []).append((endpoint_id, event_types))
    return found


# --- what the domain's roots call -----------------------------------------------------------------


def subscription_status_events(sub, previous: dict[str, Any]) -> list[NewEvent]:
    """subscription.updated for a status change (previous attributes given), and
    subscription.canceled when it entered canceled. `sub` is a row or an object with its columns."""
    obj = SubscriptionObject.of(sub)
    events = [NewEvent(sub.merchant_id, "subscription.updated", obj, previous)]
    if sub.status == "canceled" and previous.get("status") != "canceled":
        events.append(NewEvent(sub.merchant_id, "subscription.canceled", obj))
    return events


def subscriptions_changed(
    session: Session, previous_by_id: dict[int, dict[str, Any]], *, now: datetime | None = None
) -> None:
    """Bulk: reload the subscriptions just changed by an UPDATE and record their status events."""
    if not previous_by_id:
        return
    table = Subscription.__table__
    ids = sorted(previous_by_id)
    events: list[NewEvent] = []
    for start in range(0, len(ids), 1000):
        for row in session.execute(
            sa.select(table).where(table.c.id.in_(ids[start : start + 1000])).order_by(table.c.id)
        ):
            events += subscription_status_events(row, previous_by_id[row.id])
    record_events(session, events, now=now)


def invoices_changed(session: Session, invoice_ids: Sequence[int], type: str, *, now: datetime | None = None) -> None:
    """Bulk: record `type` (invoice.finalized / invoice.paid) for invoices just changed by an UPDATE."""
    table = Invoice.__table__
    columns = [c for c in table.c if c.name != "pdf_bytes"]
    ids = sorted(set(invoice_ids))
    for start in range(0, len(ids), 1000):
        rows = session.execute(
            sa.select(*columns).where(table.c.id.in_(ids[start : start + 1000])).order_by(table.c.id)
        )
        rows = list(rows)
        record_events(
            session,
            [NewEvent(row.merchant_id, type, obj) for row, obj in zip(rows, invoice_objects(session, rows))],
            now=now,
        )


def status_changed(obj, previous_status: str) -> None:
    """Called by statuses.transition() after it set obj.status: the event(s) that move reports.
    Rows outside a session (tests' stand-ins, objects not yet added) report nothing."""
    state = sa.inspect(obj, raiseerr=False)
    session = state.session if state is not None else None
    if session is None or obj.id is None:
        return
    table = obj.__tablename__
    if table == "subscription":
        record_events(session, subscription_status_events(obj, {"status": previous_status}))
    elif table == "invoice" and obj.status in _INVOICE_EVENT_OF_STATUS:
        record_invoice_event(session, obj, _INVOICE_EVENT_OF_STATUS[obj.status])
    elif table == "payment_attempt" and obj.status == "failed" and obj.invoice_id is not None:
        invoice = session.get(Invoice, obj.invoice_id)
        if invoice is not None:
            record_invoice_event(session, invoice, "invoice.payment_failed")


def record_invoice_event(session: Session, invoice: Invoice, type: str, *, now: datetime | None = None) -> str:
    (obj,) = invoice_objects(session, [invoice])
    return record_event(session, merchant_id=invoice.merchant_id, type=type, obj=obj, now=now)


def payment_method_updated(session: Session, pm, *, merchant_id: int, now: datetime | None = None) -> str:
    """A subscriber's new default card."""
    return record_event(
        session, merchant_id=merchant_id, type="payment_method.updated", obj=PaymentMethodObject.of(pm), now=now
    )


def portal_link_regenerated(session: Session, subscriber, *, now: datetime | None = None) -> str:
    """The subscriber whose link was replaced; never the link itself (portal_url stays None)."""
    return record_event(
        session,
        merchant_id=subscriber.merchant_id,
        type="portal_link.regenerated",
        obj=SubscriberObject.of(subscriber, portal_url=None),
        now=now,
    )
