"""The portal's retention offer: what the cancel flow shows before the confirmation, and the
subscriber's answer. Each call takes the portal session's (merchant_id, subscriber_id), owns its
transaction and works on the subscriber's live subscription only (no id from the browser)."""

from __future__ import annotations

from datetime import datetime

from portal_app.billing import retention
from portal_app.billing.errors import NotFound
from portal_app.billing.facades.outage import calm_on_database_outage
from portal_app.billing.retention import OfferTerms
from portal_app.billing.subscription_views import current_subscription
from portal_app.db import session_scope
from portal_app.models import utcnow

__all__ = ["OfferTerms", "accept_offer", "decline_offer", "offer_before_cancel"]


def _live_subscription_id(session, merchant_id: int, subscriber_id: int) -> int:
    sub = current_subscription(session, merchant_id, subscriber_id)
    if sub is None:
        raise NotFound("There is no subscription.")
    return sub.id


@calm_on_database_outage
def offer_before_cancel(*, merchant_id: int, subscriber_id: int, now: datetime | None = None) -> OfferTerms | None:
    """The offer to show when the subscriber starts to cancel (recorded as shown), or None: go
    straight to the cancel confirmation."""
    with session_scope() as session:
        sub_id = _live_subscription_id(session, merchant_id, subscriber_id)
        found = retention.offer_for_cancel(session, sub_id, merchant_id=merchant_id, now=now or utcnow())
        return found[1] if found else None


@calm_on_database_outage
def accept_offer(*, merchant_id: int, subscriber_id: int, now: datetime | None = None) -> None:
    """Take the offer shown: the subscription stays, its next invoices are discounted."""
    with session_scope() as session:
        sub_id = _live_subscription_id(session, merchant_id, subscriber_id)
        retention.accept_offer(session, sub_id, merchant_id=merchant_id, actor="subscriber", now=now or utcnow())


@calm_on_database_outage
def decline_offer(*, merchant_id: int, subscriber_id: int, now: datetime | None = None) -> None:
    """No thanks: the cancel confirmation comes next."""
    with session_scope() as session:
        sub_id = _live_subscription_id(session, merchant_id, subscriber_id)
        retention.decline_offer(session, sub_id, merchant_id=merchant_id, actor="subscriber", now=now or utcnow())
