"""Console plan page: the plan's retention offer (none | a percentage | an amount off, for 1-24
invoices), read as form values and saved after the checks of billing/retention.validate_offer."""

from __future__ import annotations

import dataclasses
from typing import Any

from portal_app import db
from portal_app.billing.audit import audit
from portal_app.billing.facades.console.forms import (
    ConsoleError,
    actor_for,
    choice_field,
    form_dict,
    parse_id,
    parse_price,
    whole_number_field,
)
from portal_app.billing.money import Money
from portal_app.billing.retention import RetentionError, validate_offer
from portal_app.billing.tenancy import get_scoped
from portal_app.models import Plan

KINDS = ("", "percent", "amount")


@dataclasses.dataclass(frozen=True)
class RetentionForm:
    kind: str  # "" | "percent" | "amount"
    value: str  # "20" (percent) or "10.00" (the plan's currency), "" without an offer
    cycles: str  # "3", "" without an offer
    currency: str


def _value_text(plan: Plan) -> str:
    if plan.retention_kind == "percent":
        return str(plan.retention_value)
    if plan.retention_kind == "amount":
        return str(Money(plan.retention_value, plan.currency).to_decimal())
    return ""


def retention_form(*, merchant_id: int, plan_id: Any) -> RetentionForm:
    with db.session_scope() as session:
        plan = get_scoped(session, Plan, parse_id(plan_id, "plan"), merchant_id)
        cycles = str(plan.retention_cycles) if plan.retention_kind else ""
        return RetentionForm(plan.retention_kind, _value_text(plan), cycles, plan.currency)


def save_retention_offer(*, merchant_id: int, user_id: int, plan_id: Any, form: Any) -> RetentionForm:
    """Validate and store the offer; ConsoleError names the field at fault."""
    form = form_dict(form)
    kind = choice_field(form, "retention_kind", KINDS, message="Choose no offer, a percentage or an amount.")
    with db.session_scope() as session:
        plan = get_scoped(session, Plan, parse_id(plan_id, "plan"), merchant_id, for_update=True)
        value = cycles = 0
        if kind == "percent":
            value = whole_number_field(
                form, "retention_value", message="Enter a whole percentage from 1 to 100.", max_digits=3
            )
        elif kind == "amount":
            try:
                value = parse_price(form.get("retention_value", ""), plan.currency)
            except ConsoleError as err:
                raise ConsoleError(err.message.replace("price", "amount"), field="retention_value") from None
        if kind:
            cycles = whole_number_field(
                form, "retention_cycles", message="Enter how many invoices: 1 to 24.", max_digits=2
            )
        try:
            kind, value, cycles = validate_offer(kind, value, cycles, plan.currency)
        except RetentionError as err:
            raise ConsoleError(err.message, field=err.field) from None
        before = (plan.retention_kind, plan.retention_value, plan.retention_cycles)
        plan.retention_kind, plan.retention_value, plan.retention_cycles = kind, value, cycles
        session.add(plan)
        if before != (kind, value, cycles):
            audit(
                session,
                merchant_id=merchant_id,
                subscriber_id=None,
                actor=actor_for(user_id),
                kind="plan_retention_offer_changed",
                detail={"plan_id": plan.id, "kind": kind, "value": value, "cycles": cycles},
            )
        return RetentionForm(kind, _value_text(plan), str(cycles) if kind else "", plan.currency)
