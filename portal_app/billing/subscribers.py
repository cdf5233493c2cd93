"""Subscriber records: billing details and language (portal), registration and search (console)."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlmodel import Session

from portal_app.billing.audit import audit
from portal_app.billing.errors import BillingError
from portal_app.billing.tenancy import get_scoped
from portal_app.i18n import SUPPORTED_LANGUAGES
from portal_app.models import Invoice, Subscriber, Subscription, utcnow

_LIMITS = {"billing_name": 120, "billing_address": 500, "tax_id": 40}


class SubscriberError(BillingError):
    code = "invalid_subscriber"


def _clean(value: object, field: str) -> str:
    if not isinstance(value, str):
        raise SubscriberError("Please enter text.", field=field)
    value = value.strip().replace("\r\n", "\n")
    if len(value) > _LIMITS[field]:
        raise SubscriberError(f"Please keep this under {_LIMITS[field]} characters.", field=field)
    if any(ord(ch) < 32 and ch != "\n" for ch in value):
        raise SubscriberError("Please remove control characters.", field=field)
    return value


def update_billing_details(
    session: Session,
    *,
    merchant_id: int,
    subscriber_id: int,
    billing_name: object,
    billing_address: object,
    tax_id: object,
    actor: str,
    now: datetime | None = None,
) -> Subscriber:
    """Name, address and tax id for future invoices (issued invoices keep their snapshot)."""
    subscriber = get_scoped(session, Subscriber, subscriber_id, merchant_id)
    values = {
        "billing_name": _clean(billing_name, "billing_name"),
        "billing_address": _clean(billing_address, "billing_address"),
        "tax_id": _clean(tax_id, "tax_id"),
    }
    if "\n" in values["billing_name"] or "\n" in values["tax_id"]:
        raise SubscriberError("Please use a single line.", field="billing_name")
    for key, value in values.items():
        setattr(subscriber, key, value)
    session.add(subscriber)
    audit(
        session,
        merchant_id=merchant_id,
        subscriber_id=subscriber_id,
        actor=actor,
        kind="billing_details_updated",
        detail={k: bool(v) for k, v in values.items()},
        now=now or utcnow(),
    )
    return subscriber


def set_language(session: Session, *, merchant_id: int, subscriber_id: int, language: object) -> Subscriber:
    if not isinstance(language, str) or language not in SUPPORTED_LANGUAGES:
        raise SubscriberError("Unsupported language.", field="language")
    subscriber = get_scoped(session, Subscriber, subscriber_id, merchant_id)
    subscriber.language = language
    session.add(subscriber)
    return subscriber


def customer_since(session: Session, *, merchant_id: int, subscriber_id: int) -> datetime:
    """When the subscriber became a customer: the earliest of their first subscription's start (its
    anchor or first period) and their first finalized invoice (its period or its finalization),
    deleted subscriptions included; the record's own created_at only when there is neither. A
    subscriber billed since 2025 and imported today is a customer since 2025."""
    subscriber = get_scoped(session, Subscriber, subscriber_id, merchant_id)
    starts = session.execute(
        sa.select(sa.func.min(Subscription.anchor_at), sa.func.min(Subscription.current_period_start)).where(
            Subscription.merchant_id == merchant_id, Subscription.subscriber_id == subscriber_id
        )
    ).one()
    invoiced = session.execute(
        sa.select(sa.func.min(Invoice.finalized_at), sa.func.min(Invoice.period_start)).where(
            Invoice.merchant_id == merchant_id,
            Invoice.subscriber_id == subscriber_id,
            Invoice.finalized_at.is_not(None),
        )
    ).one()
    known = [_aware(moment) for moment in (*starts, *invoiced) if moment is not None]
    return min(known) if known else _aware(subscriber.created_at)


def _aware(moment: datetime) -> datetime:
    """SQLite answers aggregates as naive datetimes (UTC by our convention)."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
