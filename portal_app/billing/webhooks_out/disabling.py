"""Disabling an endpoint after persistent failure, and telling the merchant.

Rule: when one delivery has spent all its attempts (MAX_ATTEMPTS over about 28 hours, see
delivery.RETRY_DELAYS) and nothing was delivered to that endpoint since that delivery's first try,
the endpoint has failed everything for more than a day: it is disabled, and the merchant's console
users (and its support address) get one email about it. One success meanwhile keeps it enabled:
a receiver that refuses one kind of event is not a dead receiver.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session, select

from portal_app.billing.emails.notice_keys import insert_emails
from portal_app.billing.emails.status import EmailStatus
from portal_app.billing.webhooks_out.endpoints import disable_endpoint
from portal_app.models import Merchant, MerchantUser, WebhookDelivery, WebhookEndpoint
from portal_app.routes import console_webhooks_url
from portal_app.settings import get_settings

EMAIL_KIND = "webhook_disabled"


def disable_if_dead(session: Session, delivery: WebhookDelivery, *, now: datetime) -> bool:
    """After `delivery` failed for good: disable its endpoint per the rule above. Returns whether
    this call disabled it."""
    delivered_since = session.execute(
        sa.select(sa.func.count())
        .select_from(WebhookDelivery)
        .where(
            WebhookDelivery.endpoint_id == delivery.endpoint_id,
            WebhookDelivery.delivered_at.is_not(None),
            WebhookDelivery.delivered_at >= delivery.created_at,
        )
    ).scalar_one()
    if delivered_since:
        return False
    endpoint = session.exec(
        select(WebhookEndpoint).where(WebhookEndpoint.id == delivery.endpoint_id).with_for_update()
    ).one()
    code = f"HTTP {delivery.last_status_code}" if delivery.last_status_code else (delivery.last_error or "no answer")
    reason = f"Every delivery failed for over a day (last: {code[:200]})."
    if not disable_endpoint(session, endpoint, reason=reason, now=now):
        return False
    _email_merchant(session, endpoint, reason, now)
    return True


def _email_merchant(session: Session, endpoint: WebhookEndpoint, reason: str, now: datetime) -> None:
    """One English notice per recipient per disabling (notice keys make it once, even if two
    runners race); queued like every email, or kept in the outbox without SMTP."""
    merchant = session.get(Merchant, endpoint.merchant_id)
    addresses = list(
        session.exec(
            select(MerchantUser.email).where(MerchantUser.merchant_id == merchant.id).order_by(MerchantUser.id)
        )
    )
    if merchant.support_email and merchant.support_email.lower() not in {a.lower() for a in addresses}:
        addresses.append(merchant.support_email)
    settings = get_settings()
    status = (EmailStatus.QUEUED if settings.smtp_host else EmailStatus.OUTBOX).value
    subject = "Webhook endpoint disabled"
    body = (
        f"Hello,\n\nWe stopped sending webhooks to {endpoint.url} for {merchant.name}.\n{reason}\n\n"
        "Events keep being recorded. Once the receiver answers again, open Webhooks in the console, "
        "resend a delivery or enable the endpoint, and the deliveries still waiting go out.\n\n"
        f"{console_webhooks_url()}\n"
    )
    stamp = f"{endpoint.disabled_at or now:%Y%m%dT%H%M%S}"
    insert_emails(
        session,
        [
            {
                "merchant_id": merchant.id,
                "subscriber_id": None,
                "kind": EMAIL_KIND,
                "to_address": address.strip(),
                "subject": subject,
                "body_text": body,
                "body_html": "",
                "status": status,
                "error": "",
                "attempts": 0,
                "created_at": now,
                "notice_key": f"{EMAIL_KIND}:{endpoint.id}:{stamp}:{index}",
            }
            for index, address in enumerate(addresses)
        ],
    )
