"""Subscriber records: billing details and language (portal), registration and search (console)."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from portal_app.billing.audit import audit
from portal_app.billing.errors import BillingError
from portal_app.billing.tenancy import get_scoped
from portal_app.i18n import SUPPORTED_LANGUAGES
from portal_app.models import Subscriber, utcnow

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
