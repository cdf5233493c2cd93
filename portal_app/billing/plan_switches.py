"""Which plans a subscriber may switch to (PlanSwitch rows, set by the merchant per plan), and when a
downgrade takes effect (Merchant.downgrade_timing). A switch target has the same merchant and
currency as its plan and is never the plan itself."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import Session, select

from portal_app.billing.audit import audit
from portal_app.billing.errors import BillingError
from portal_app.billing.tenancy import get_scoped
from portal_app.models import Merchant, Plan, PlanSwitch

MAX_SWITCH_TARGETS = 50


class DowngradeTiming(StrEnum):
    PERIOD_END = "period_end"
    IMMEDIATELY = "immediately"


class PlanSwitchError(BillingError):
    code = "invalid_plan_switch"


def switch_candidates(session: Session, plan: Plan) -> list[Plan]:
    """Plans the merchant may offer as switch targets of `plan`: active, same merchant and currency."""
    return list(
        session.exec(
            select(Plan)
            .where(
                Plan.merchant_id == plan.merchant_id,
                Plan.currency == plan.currency,
                Plan.id != plan.id,
                Plan.active.is_(True),
            )
            .order_by(Plan.amount_minor, Plan.id)
        )
    )


def switch_targets(session: Session, plan: Plan, *, active_only: bool = True) -> list[Plan]:
    """The plans a subscriber of `plan` may switch to (the merchant's list), cheapest first."""
    stmt = (
        select(Plan)
        .join(PlanSwitch, PlanSwitch.target_plan_id == Plan.id)
        .where(
            PlanSwitch.plan_id == plan.id,
            PlanSwitch.merchant_id == plan.merchant_id,
            Plan.merchant_id == plan.merchant_id,
            Plan.currency == plan.currency,
        )
        .order_by(Plan.amount_minor, Plan.id)
    )
    if active_only:
        stmt = stmt.where(Plan.active.is_(True))
    return list(session.exec(stmt))


def may_switch(session: Session, plan: Plan, target: Plan) -> bool:
    """Whether the merchant lets subscribers of `plan` switch to `target` (and the pair is valid)."""
    if target.id == plan.id or target.merchant_id != plan.merchant_id or target.currency != plan.currency:
        return False
    found = session.execute(
        sa.select(PlanSwitch.id).where(
            PlanSwitch.plan_id == plan.id,
            PlanSwitch.target_plan_id == target.id,
            PlanSwitch.merchant_id == plan.merchant_id,
        )
    ).first()
    return found is not None


def set_switch_targets(
    session: Session, plan_id: int, target_ids: Iterable[int], *, merchant_id: int, actor: str, now: datetime
) -> list[int]:
    """Replace the list of plans subscribers of `plan_id` may switch to. Every target must be another
    plan of this merchant in the same currency (an unknown or foreign id is reported as not found)."""
    plan = get_scoped(session, Plan, plan_id, merchant_id, for_update=True)
    wanted: list[int] = []
    for target_id in target_ids:
        if isinstance(target_id, bool) or not isinstance(target_id, int):
            raise PlanSwitchError("Plan ids are whole numbers.")
        if target_id not in wanted:
            wanted.append(target_id)
    if len(wanted) > MAX_SWITCH_TARGETS:
        raise PlanSwitchError(f"A plan offers at most {MAX_SWITCH_TARGETS} plans to switch to.")
    for target_id in wanted:
        target = get_scoped(session, Plan, target_id, merchant_id)
        if target.id == plan.id:
            raise PlanSwitchError("A plan cannot be switched to itself.")
        if target.currency != plan.currency:
            raise PlanSwitchError("Subscribers can only switch to a plan in the same currency.")
    current = set(
        session.execute(
            sa.select(PlanSwitch.target_plan_id).where(
                PlanSwitch.plan_id == plan.id, PlanSwitch.merchant_id == merchant_id
            )
        ).scalars()
    )
    removed, added = current - set(wanted), [t for t in wanted if t not in current]
    if removed:
        session.execute(
            sa.delete(PlanSwitch).where(PlanSwitch.plan_id == plan.id, PlanSwitch.target_plan_id.in_(removed))
        )
    for target_id in added:
        session.add(PlanSwitch(merchant_id=merchant_id, plan_id=plan.id, target_plan_id=target_id, created_at=now))
    session.flush()
    if removed or added:
        audit(
            session,
            merchant_id=merchant_id,
            subscriber_id=None,
            actor=actor,
            kind="plan_switches_set",
            detail={"plan_id": plan.id, "targets": wanted},
            now=now,
        )
    return wanted


def set_downgrade_timing(session: Session, *, merchant_id: int, timing: str, actor: str, now: datetime) -> str:
    """When downgrades take effect for this merchant: at the period end (default) or immediately."""
    if timing not in tuple(DowngradeTiming):
        raise PlanSwitchError("Choose when downgrades take effect.", field="downgrade_timing")
    merchant = session.exec(select(Merchant).where(Merchant.id == merchant_id).with_for_update()).one()
    if merchant.downgrade_timing != timing:
        previous, merchant.downgrade_timing = merchant.downgrade_timing, timing
        session.add(merchant)
        session.flush()
        audit(
            session,
            merchant_id=merchant_id,
            subscriber_id=None,
            actor=actor,
            kind="downgrade_timing_set",
            detail={"from": previous, "to": timing},
            now=now,
        )
    return timing
