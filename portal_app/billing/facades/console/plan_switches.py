"""Console plan page: which plans a subscriber of this plan may switch to from the portal."""

from __future__ import annotations

import dataclasses
from typing import Any

from portal_app import db
from portal_app.billing import plan_switches
from portal_app.billing.facades.console.forms import actor_for, parse_id
from portal_app.billing.money import Money
from portal_app.billing.tenancy import get_scoped
from portal_app.models import Plan, utcnow


@dataclasses.dataclass(frozen=True)
class SwitchOption:
    plan_id: int
    name: str
    price: Money
    interval: str
    interval_count: int
    offered: bool  # listed as a switch target of the plan


def switch_options(*, merchant_id: int, plan_id: Any) -> list[SwitchOption]:
    """Every plan the merchant could offer (active, same currency, not the plan itself), marked when
    it is offered; cheapest first."""
    plan_id = parse_id(plan_id, "plan")
    with db.session_scope() as session:
        plan = get_scoped(session, Plan, plan_id, merchant_id)
        offered = {p.id for p in plan_switches.switch_targets(session, plan)}
        return [
            SwitchOption(p.id, p.name, Money(p.amount_minor, p.currency), p.interval, p.interval_count, p.id in offered)
            for p in plan_switches.switch_candidates(session, plan)
        ]


def save_switch_targets(*, merchant_id: int, user_id: int, plan_id: Any, target_ids: Any) -> list[int]:
    """Replace the plan's switch list with `target_ids` (ids of the merchant's plans, as strings or ints)."""
    plan_id = parse_id(plan_id, "plan")
    if not isinstance(target_ids, list) or len(target_ids) > plan_switches.MAX_SWITCH_TARGETS:
        raise plan_switches.PlanSwitchError("Choose the plans from the list.")
    targets = [parse_id(value, "plan") for value in target_ids]
    with db.session_scope() as session:
        return plan_switches.set_switch_targets(
            session, plan_id, targets, merchant_id=merchant_id, actor=actor_for(user_id), now=utcnow()
        )
