"""Console plans page: the merchant's plans with live subscriber counts and MRR, and the plan form."""

from __future__ import annotations

import dataclasses
from fractions import Fraction
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from portal_app import db, routes
from portal_app.billing import plans as plan_service
from portal_app.billing.facades.console.forms import (
    ConsoleError,
    actor_for,
    checkbox,
    choice_field,
    form_dict,
    parse_id,
    parse_price,
    text_field,
    whole_number_field,
)
from portal_app.billing.money import Money, validate_currency
from portal_app.billing.statuses import SubscriptionStatus, renews
from portal_app.billing.tenancy import get_scoped
from portal_app.models import (
    Merchant,
    Plan,
    Subscription,
)

S = SubscriptionStatus


_MONTHS_PER = {"day": Fraction(12, 365), "week": Fraction(12, 52), "month": Fraction(1), "year": Fraction(12)}


def monthly_amount_minor(amount_minor: int, interval: str, interval_count: int) -> int:
    """A plan's price normalized to one month (MRR contribution), rounded half up to the minor unit."""
    months = _MONTHS_PER.get(interval, Fraction(1)) * max(int(interval_count or 1), 1)
    value = Fraction(amount_minor) / months
    return int(value + Fraction(1, 2)) if value >= 0 else -int(-value + Fraction(1, 2))


def money_by_currency(amounts: dict[str, int]) -> list[Money]:
    return [Money(amount, currency) for currency, amount in sorted(amounts.items(), key=lambda kv: -kv[1])]


@dataclasses.dataclass(frozen=True)
class PlanRow:
    plan_id: int
    name: str
    price: Money
    interval: str
    interval_count: int
    cancellation_policy: str
    active: bool
    subscriber_count: int  # live (not deleted, not ended) subscriptions
    mrr: Money
    signup_url: str = ""  # the plan's public hosted signup page (get_plan only)


def _plan_row(plan: Plan, counts: dict[int, int], paying: dict[int, int]) -> PlanRow:
    monthly = monthly_amount_minor(plan.amount_minor, plan.interval, plan.interval_count)
    return PlanRow(
        plan.id,
        plan.name,
        Money(plan.amount_minor, plan.currency),
        plan.interval,
        plan.interval_count,
        plan.cancellation_policy,
        plan.active,
        counts.get(plan.id, 0),
        Money(monthly * paying.get(plan.id, 0), plan.currency),
    )


def _plan_counts(session: Session, merchant_id: int, plan_ids: list[int] | None = None) -> tuple[dict, dict]:
    """{plan_id: live subscriptions}, {plan_id: revenue-bearing subscriptions} in one grouped query."""
    stmt = (
        sa.select(Subscription.plan_id, Subscription.status, sa.func.count())
        .where(
            Subscription.merchant_id == merchant_id,
            Subscription.deleted_at.is_(None),
            Subscription.status != S.CANCELED.value,
        )
        .group_by(Subscription.plan_id, Subscription.status)
    )
    if plan_ids is not None:
        stmt = stmt.where(Subscription.plan_id.in_(plan_ids))
    counts: dict[int, int] = {}
    paying: dict[int, int] = {}
    for plan_id, status, count in session.execute(stmt):
        counts[plan_id] = counts.get(plan_id, 0) + count
        if renews(status):  # they bring in recurring revenue
            paying[plan_id] = paying.get(plan_id, 0) + count
    return counts, paying


def list_plans(*, merchant_id: int) -> list[PlanRow]:
    """Every plan of the merchant (archived ones too) with subscriber counts and MRR."""
    with db.session_scope() as session:
        plans = plan_service.list_plans(session, merchant_id=merchant_id, include_inactive=True)
        counts, paying = _plan_counts(session, merchant_id)
        return [_plan_row(plan, counts, paying) for plan in plans]


def get_plan(*, merchant_id: int, plan_id: Any) -> PlanRow:
    plan_id = parse_id(plan_id, "plan")
    with db.session_scope() as session:
        plan = get_scoped(session, Plan, plan_id, merchant_id)
        counts, paying = _plan_counts(session, merchant_id, [plan_id])
        merchant = session.get(Merchant, merchant_id)
        return dataclasses.replace(
            _plan_row(plan, counts, paying), signup_url=routes.signup_url(merchant.slug, plan.id)
        )


def plan_fields_from_form(form: Any) -> dict[str, Any]:
    """The plan form (strings from the browser) as typed plan fields, or ConsoleError naming the field."""
    form = form_dict(form)
    name = text_field(form, "name", label="Plan name", max_length=120)
    currency_text = form.get("currency", "")
    try:
        currency = validate_currency(currency_text if isinstance(currency_text, str) else "")
    except ValueError:
        raise ConsoleError("Choose a known currency (ISO 4217 code such as USD or EUR).", field="currency") from None
    amount_minor = parse_price(form.get("price", ""), currency)
    interval = choice_field(
        form,
        "interval",
        plan_service.MAX_INTERVAL_COUNT,
        message="The billing interval must be day, week, month or year.",
    )
    interval_count = whole_number_field(
        form, "interval_count", default="1", max_digits=4, message="Bill every: enter a whole number."
    )
    policy = choice_field(
        form,
        "cancellation_policy",
        [p.value for p in plan_service.CancellationPolicy],
        message="Choose a cancellation policy.",
    )
    fields = {
        "name": name,
        "amount_minor": amount_minor,
        "currency": currency,
        "interval": interval,
        "interval_count": interval_count,
        "cancellation_policy": policy,
    }
    try:
        fields = plan_service.validate_plan_fields(**fields)
    except plan_service.PlanError as err:
        raise ConsoleError(err.message, field={"amount_minor": "price"}.get(err.field, err.field)) from None
    # An unchecked switch sends nothing: the form marks its presence with active_present.
    fields["active"] = (
        checkbox(form.get("active", "")) if "active_present" in form else form.get("active", True) is not False
    )
    if "active_present" not in form and "active" in form:
        fields["active"] = checkbox(form["active"])
    return fields


def save_plan(*, merchant_id: int, user_id: int, form: Any, plan_id: Any = None) -> int:
    """Create a plan (plan_id None) or change one of the merchant's plans; returns its id."""
    fields = plan_fields_from_form(form)
    with db.session_scope() as session:
        if plan_id is None:
            active = fields.pop("active")
            plan = plan_service.create_plan(session, merchant_id=merchant_id, actor=actor_for(user_id), **fields)
            if not active:
                plan_service.update_plan(
                    session, plan.id, merchant_id=merchant_id, actor=actor_for(user_id), active=False
                )
            return plan.id
        plan = plan_service.update_plan(
            session, parse_id(plan_id, "plan"), merchant_id=merchant_id, actor=actor_for(user_id), **fields
        )
        return plan.id
