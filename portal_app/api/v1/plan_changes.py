"""POST /subscriptions/{subscription_id}/preview_change and .../change_plan with {"plan_id": ...}:
what a plan change would charge or credit today and renew at, and the change itself (an upgrade's
prorated invoice is charged at once; a downgrade follows the merchant's downgrade timing)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from portal_app import routes
from portal_app.api.v1.endpoints import ApiCall, post
from portal_app.api.v1.pagination import ObjectId
from portal_app.billing.facades import api_plan_change as facade
from portal_app.billing.objects import ApiObject, SubscriptionObject


class PlanChangeBody(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    plan_id: ObjectId = Field(description="The plan to switch to: one of the subscription plan's switch targets.")


class ProrationLineObject(ApiObject):
    description: str
    amount: int  # minor units; negative for the old plan's unused time


class PlanChangePreviewObject(ApiObject):
    object: Literal["plan_change_preview"] = "plan_change_preview"
    subscription_id: int
    from_plan_id: int
    to_plan_id: int
    currency: str
    upgrade: bool = Field(description="The new plan costs more per day.")
    timing: Literal["now", "period_end"]
    effective_at: datetime
    amount_due: int = Field(description="Charged today (minor units).")
    credit: int = Field(description="Added to the subscription's credit, taken off the next invoices.")
    lines: list[ProrationLineObject]
    next_renewal_at: datetime
    next_renewal_amount: int

    @classmethod
    def of(cls, p) -> PlanChangePreviewObject:
        return cls(
            subscription_id=p.subscription_id,
            from_plan_id=p.from_plan_id,
            to_plan_id=p.to_plan_id,
            currency=p.currency,
            upgrade=p.upgrade,
            timing=p.timing,
            effective_at=p.effective_at,
            amount_due=p.amount_due_today.amount_minor,
            credit=p.credit_added.amount_minor,
            lines=[ProrationLineObject(description=line.description, amount=line.amount_minor) for line in p.lines],
            next_renewal_at=p.next_renewal_at,
            next_renewal_amount=p.next_renewal_minor,
        )


class PlanChangeObject(ApiObject):
    object: Literal["plan_change"] = "plan_change"
    id: int
    preview: PlanChangePreviewObject
    subscription: SubscriptionObject
    invoice_id: int | None = Field(description="The prorated invoice charged today (none when nothing is owed).")
    payment: (
        Literal[
            "succeeded",
            "declined",
            "requires_action",
            "unknown",
            "in_progress",
            "in_review",
            "already_paid",
            "not_payable",
        ]
        | None
    ) = Field(description="How today's charge went; a decline leaves the plan changed and the invoice to dunning.")


@post(
    routes.API_V1_SUBSCRIPTION_PREVIEW_CHANGE,
    summary="Preview a plan change (nothing is changed)",
    response=PlanChangePreviewObject,
    body=PlanChangeBody,
    errors=(400, 404, 409),
    tag="subscriptions",
)
def preview_change(call: ApiCall):
    preview = facade.preview_change(call.merchant_id, call.ids["subscription_id"], call.body.plan_id)
    return PlanChangePreviewObject.of(preview)


@post(
    routes.API_V1_SUBSCRIPTION_CHANGE_PLAN,
    summary="Change a subscription's plan (an upgrade is prorated and charged now)",
    response=PlanChangeObject,
    body=PlanChangeBody,
    errors=(400, 404, 409),
    tag="subscriptions",
)
def change_plan(call: ApiCall):
    outcome, sub = facade.change_plan(
        call.merchant_id, call.ids["subscription_id"], call.body.plan_id, key_id=call.key_id
    )
    return PlanChangeObject(
        id=outcome.result.plan_change_id,
        preview=PlanChangePreviewObject.of(outcome.result.preview),
        subscription=SubscriptionObject.of(sub),
        invoice_id=outcome.result.invoice_id,
        payment=outcome.charge.outcome.value if outcome.charge else None,
    )


ENDPOINTS = [preview_change, change_plan]
