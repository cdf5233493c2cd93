"""Console settings: when a subscriber's downgrade takes effect (at the period end or immediately)."""

from __future__ import annotations

from typing import Any

from portal_app import db
from portal_app.billing import plan_switches
from portal_app.billing.errors import NotFound
from portal_app.billing.facades.console.forms import actor_for
from portal_app.models import Merchant, utcnow

DOWNGRADE_TIMINGS = tuple(plan_switches.DowngradeTiming)


def downgrade_timing(*, merchant_id: int) -> str:
    with db.session_scope() as session:
        merchant = session.get(Merchant, merchant_id)
        if merchant is None:
            raise NotFound("Merchant not found")
        return merchant.downgrade_timing


def save_downgrade_timing(*, merchant_id: int, user_id: int, timing: Any) -> str:
    if not isinstance(timing, str):
        raise plan_switches.PlanSwitchError("Choose when downgrades take effect.", field="downgrade_timing")
    with db.session_scope() as session:
        return plan_switches.set_downgrade_timing(
            session, merchant_id=merchant_id, timing=timing, actor=actor_for(user_id), now=utcnow()
        )
