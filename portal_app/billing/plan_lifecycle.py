"""A plan's trial and pause settings (Plan.trial_days, Plan.pause_max_days) and the merchant's trial
reminder (Merchant.trial_reminder_days): validated, changed under a row lock, audited. New values
apply to subscriptions started (trial) or pauses chosen (pause) afterwards."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from portal_app.billing.audit import audit
from portal_app.billing.errors import BillingError
from portal_app.billing.tenancy import get_scoped
from portal_app.models import Merchant, Plan

MAX_TRIAL_DAYS = 365
MAX_PAUSE_DAYS = 365
MAX_REMINDER_DAYS = 30


class PlanLifecycleError(BillingError):
    code = "plan_lifecycle_error"


def _days(value: object, *, most: int, field: str, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= most:
        raise PlanLifecycleError(f"{what} must be a whole number from 0 to {most}.", field=field)
    return value


def set_plan_lifecycle(
    session: Session,
    plan_id: int,
    *,
    merchant_id: int,
    trial_days: object,
    pause_max_days: object,
    actor: str,
    now: datetime,
) -> Plan:
    """Set a plan's free trial length and longest pause (0 = none / no pausing)."""
    changes = {
        "trial_days": _days(trial_days, most=MAX_TRIAL_DAYS, field="trial_days", what="Trial days"),
        "pause_max_days": _days(pause_max_days, most=MAX_PAUSE_DAYS, field="pause_max_days", what="Pause days"),
    }
    plan = get_scoped(session, Plan, plan_id, merchant_id, for_update=True)
    changed = {key: value for key, value in changes.items() if getattr(plan, key) != value}
    for key, value in changed.items():
        setattr(plan, key, value)
    session.add(plan)
    session.flush()
    if changed:
        audit(
            session,
            merchant_id=merchant_id,
            subscriber_id=None,
            actor=actor,
            kind="plan_updated",
            detail={"plan_id": plan.id, **changed},
            now=now,
        )
    return plan


def set_trial_reminder_days(session: Session, *, merchant_id: int, days: object, actor: str, now: datetime) -> Merchant:
    """How many days before a trial ends its reminder goes out (0 = no reminder)."""
    days = _days(days, most=MAX_REMINDER_DAYS, field="trial_reminder_days", what="Reminder days")
    merchant = get_scoped_merchant(session, merchant_id)
    if merchant.trial_reminder_days != days:
        previous, merchant.trial_reminder_days = merchant.trial_reminder_days, days
        session.add(merchant)
        session.flush()
        audit(
            session,
            merchant_id=merchant_id,
            subscriber_id=None,
            actor=actor,
            kind="settings_updated",
            detail={"trial_reminder_days": days, "was": previous},
            now=now,
        )
    return merchant


def get_scoped_merchant(session: Session, merchant_id: int) -> Merchant:
    merchant = session.get(Merchant, merchant_id, with_for_update=True)
    if merchant is None:
        raise PlanLifecycleError("Merchant not found")
    return merchant
