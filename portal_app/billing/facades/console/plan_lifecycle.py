"""Console: a plan's trial and pause fields (plan page) and the trial reminder (settings page). Each
call is scoped to the signed-in merchant, validates the form and owns its transaction."""

from __future__ import annotations

import dataclasses
from typing import Any

from portal_app import db
from portal_app.billing import plan_lifecycle
from portal_app.billing.facades.console.forms import actor_for, form_dict, parse_id, whole_number_field
from portal_app.billing.tenancy import get_scoped
from portal_app.models import Merchant, Plan, utcnow


@dataclasses.dataclass(frozen=True)
class PlanLifecycle:
    trial_days: int
    pause_max_days: int


def get_plan_lifecycle(*, merchant_id: int, plan_id: Any) -> PlanLifecycle:
    with db.session_scope() as session:
        plan = get_scoped(session, Plan, parse_id(plan_id, "plan"), merchant_id)
        return PlanLifecycle(plan.trial_days, plan.pause_max_days)


def save_plan_lifecycle(*, merchant_id: int, user_id: int, plan_id: Any, form: Any) -> PlanLifecycle:
    form = form_dict(form)
    trial = whole_number_field(
        form, "trial_days", message="Enter the trial length in whole days (0 = no trial).", default="0", max_digits=3
    )
    pause = whole_number_field(
        form,
        "pause_max_days",
        message="Enter the longest pause in whole days (0 = no pausing).",
        default="0",
        max_digits=3,
    )
    with db.session_scope() as session:
        plan = plan_lifecycle.set_plan_lifecycle(
            session,
            parse_id(plan_id, "plan"),
            merchant_id=merchant_id,
            trial_days=trial,
            pause_max_days=pause,
            actor=actor_for(user_id),
            now=utcnow(),
        )
        return PlanLifecycle(plan.trial_days, plan.pause_max_days)


def get_trial_reminder_days(*, merchant_id: int) -> int:
    with db.session_scope() as session:
        merchant = session.get(Merchant, merchant_id)
        return merchant.trial_reminder_days if merchant else 0


def save_trial_reminder_days(*, merchant_id: int, user_id: int, form: Any) -> int:
    form = form_dict(form)
    days = whole_number_field(
        form,
        "trial_reminder_days",
        message="Enter the reminder in whole days (0 = no reminder).",
        default="0",
        max_digits=2,
    )
    with db.session_scope() as session:
        merchant = plan_lifecycle.set_trial_reminder_days(
            session, merchant_id=merchant_id, days=days, actor=actor_for(user_id), now=utcnow()
        )
        return merchant.trial_reminder_days
