"""REST API plan changes: preview and apply a change of a subscription's plan, as the merchant asks
(the same rules as the portal: billing/plan_changes.py; the target must be in the plan's switch list)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from portal_app import db
from portal_app.billing import plan_changes
from portal_app.billing.errors import NotFound
from portal_app.billing.facades.api import api_actor
from portal_app.billing.facades.console.forms import parse_id
from portal_app.billing.gateways import get_gateway
from portal_app.billing.plan_change_preview import PlanChangePreview
from portal_app.billing.tenancy import get_scoped
from portal_app.models import Subscription, utcnow


def _live(session, merchant_id: int, subscription_id: Any) -> Subscription:
    sub = get_scoped(session, Subscription, parse_id(subscription_id, "subscription"), merchant_id)
    if sub.deleted_at is not None:
        raise NotFound("Subscription not found")
    return sub


def preview_change(
    merchant_id: int, subscription_id: Any, plan_id: Any, *, now: datetime | None = None
) -> PlanChangePreview:
    with db.session_scope() as session:
        sub = _live(session, merchant_id, subscription_id)
        return plan_changes.preview_change(
            session, sub.id, parse_id(plan_id, "plan"), now or utcnow(), merchant_id=merchant_id
        )


def change_plan(
    merchant_id: int, subscription_id: Any, plan_id: Any, *, key_id: int, now: datetime | None = None
) -> tuple[plan_changes.PlanChangeOutcome, Subscription]:
    """Apply the change and charge what is owed today; the outcome and the subscription after it."""
    with db.session_scope() as session:
        sub_id = _live(session, merchant_id, subscription_id).id
    outcome = plan_changes.change_plan_and_charge(
        db.get_engine(),
        merchant_id=merchant_id,
        subscription_id=sub_id,
        plan_id=parse_id(plan_id, "plan"),
        actor=api_actor(key_id),
        gateway=get_gateway(),
        now=now or utcnow(),
    )
    with db.session_scope() as session:
        sub = session.get(Subscription, sub_id)
        session.expunge(sub)
    return outcome, sub
