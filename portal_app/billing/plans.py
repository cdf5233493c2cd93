"""Plans: what a subscription costs and how often it renews. Create, update, archive, list.

Price changes apply from the next renewal on: issued invoices keep the amount they were finalized with.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from sqlmodel import Session, select

from portal_app.billing.audit import audit
from portal_app.billing.errors import BillingError
from portal_app.billing.money import Money, validate_currency
from portal_app.billing.periods import VALID_INTERVALS
from portal_app.billing.tenancy import get_scoped
from portal_app.models import Plan, utcnow


class PlanError(BillingError):
    """A plan field is invalid; `field` names it for the form."""

    code = "invalid_plan"


class CancellationPolicy(StrEnum):
    NOT_ALLOWED = "not_allowed"
    AT_PERIOD_END = "at_period_end"
    IMMEDIATELY = "immediately"


# Longest billing period we accept per interval (about three years, like Stripe; days capped at a year).
MAX_INTERVAL_COUNT = {"day": 365, "week": 156, "month": 36, "year": 3}
# Upper bound on a price: keeps sums of many invoices far inside a 64-bit integer.
MAX_AMOUNT_MINOR = 10**12


def validate_plan_fields(
    *,
    name: Any,
    amount_minor: Any,
    currency: Any,
    interval: Any,
    interval_count: Any,
    cancellation_policy: Any,
) -> dict[str, Any]:
    """Normalized plan fields, or PlanError naming the first bad field."""
    name = (name or "").strip() if isinstance(name, str) else ""
    if not 1 <= len(name) <= 120:
        raise PlanError("The plan name must be 1 to 120 characters.", field="name")
    # Money is integer minor units: a float or a bool is a bug upstream, not a price.
    if isinstance(amount_minor, bool) or not isinstance(amount_minor, int):
        raise PlanError("The price must be a whole number of cents.", field="amount_minor")
    if not 0 < amount_minor <= MAX_AMOUNT_MINOR:
        raise PlanError("The price must be greater than zero.", field="amount_minor")
    try:
        currency = validate_currency(currency if isinstance(currency, str) else "")
    except ValueError:
        raise PlanError(f"Unknown currency {currency!r}.", field="currency") from None
    if interval not in VALID_INTERVALS or interval not in MAX_INTERVAL_COUNT:
        raise PlanError("The interval must be day, week, month or year.", field="interval")
    if isinstance(interval_count, bool) or not isinstance(interval_count, int):
        raise PlanError("The interval count must be a whole number.", field="interval_count")
    if not 1 <= interval_count <= MAX_INTERVAL_COUNT[interval]:
        raise PlanError(
            f"The interval count must be between 1 and {MAX_INTERVAL_COUNT[interval]} for {interval}s.",
            field="interval_count",
        )
    try:
        policy = CancellationPolicy(cancellation_policy).value
    except ValueError:
        raise PlanError(
            "The cancellation policy must be not_allowed, at_period_end or immediately.",
            field="cancellation_policy",
        ) from None
    return {
        "name": name,
        "amount_minor": amount_minor,
        "currency": currency,
        "interval": interval,
        "interval_count": interval_count,
        "cancellation_policy": policy,
    }


def create_plan(
    session: Session,
    *,
    merchant_id: int,
    name: str,
    amount_minor: int,
    currency: str,
    interval: str,
    interval_count: int = 1,
    cancellation_policy: str = CancellationPolicy.AT_PERIOD_END,
    actor: str = "system",
) -> Plan:
    """Validate and add a plan for the merchant (flushed, not committed)."""
    fields = validate_plan_fields(
        name=name,
        amount_minor=amount_minor,
        currency=currency,
        interval=interval,
        interval_count=interval_count,
        cancellation_policy=cancellation_policy,
    )
    plan = Plan(merchant_id=merchant_id, active=True, **fields)
    session.add(plan)
    session.flush()
    audit(
        session,
        merchant_id=merchant_id,
        subscriber_id=None,
        actor=actor,
        kind="plan_created",
        detail={"plan_id": plan.id, **fields},
    )
    return plan


_UPDATABLE = ("name", "amount_minor", "currency", "interval", "interval_count", "cancellation_policy", "active")


def update_plan(session: Session, plan_id: int, *, merchant_id: int, actor: str = "system", **changes: Any) -> Plan:
    """Change a plan's fields (validated as a whole). Running subscriptions pick the change up at
    their next renewal; finalized invoices never change."""
    unknown = set(changes) - set(_UPDATABLE)
    if unknown:
        raise PlanError(f"Unknown plan field(s): {', '.join(sorted(unknown))}.")
    plan = get_scoped(session, Plan, plan_id, merchant_id, for_update=True)
    merged = {key: changes.get(key, getattr(plan, key)) for key in _UPDATABLE if key != "active"}
    fields = validate_plan_fields(**merged)
    if "active" in changes:
        if not isinstance(changes["active"], bool):
            raise PlanError("active must be true or false.", field="active")
        fields["active"] = changes["active"]
    changed = {key: value for key, value in fields.items() if getattr(plan, key) != value}
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
            now=utcnow(),
        )
    return plan


def archive_plan(session: Session, plan_id: int, *, merchant_id: int, actor: str = "system") -> Plan:
    """Hide a plan from new sign-ups; existing subscriptions keep renewing on it."""
    return update_plan(session, plan_id, merchant_id=merchant_id, actor=actor, active=False)


def get_plan(session: Session, plan_id: int, *, merchant_id: int) -> Plan:
    return get_scoped(session, Plan, plan_id, merchant_id)


def list_plans(session: Session, *, merchant_id: int, include_inactive: bool = False) -> list[Plan]:
    stmt = select(Plan).where(Plan.merchant_id == merchant_id)
    if not include_inactive:
        stmt = stmt.where(Plan.active.is_(True))
    return list(session.exec(stmt.order_by(Plan.name, Plan.id)))


def plan_price(plan: Plan) -> Money:
    """The plan's price per period as Money."""
    return Money(plan.amount_minor, plan.currency)
