"""GET /subscriptions (filters), GET /subscriptions/{subscription_id}, POST .../cancel, POST .../undo_cancel."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from portal_app import routes
from portal_app.api.v1.endpoints import ApiCall, get, post
from portal_app.api.v1.pagination import ListQuery, ObjectId, list_model
from portal_app.billing.facades import api as api_facade
from portal_app.billing.objects import SubscriptionObject

SubscriptionList = list_model(SubscriptionObject, "SubscriptionList")


class SubscriptionListQuery(ListQuery):
    status: Literal["trialing", "active", "past_due", "canceled", "unpaid", "incomplete", "paused"] | None = None
    plan: ObjectId | None = Field(None, description="Only this plan's subscriptions.")
    subscriber: ObjectId | None = Field(None, description="Only this subscriber's subscriptions.")


class CancelBody(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    at_period_end: bool = Field(
        description="true: service continues until the period ends (undo possible until then); false: ends now. "
        "Unpaid and incomplete subscriptions always end now."
    )


@get(
    routes.API_V1_SUBSCRIPTIONS,
    summary="List subscriptions",
    response=SubscriptionList,
    query=SubscriptionListQuery,
    errors=(400,),
    tag="subscriptions",
)
def list_subscriptions(call: ApiCall):
    q: SubscriptionListQuery = call.query
    return api_facade.list_subscriptions(
        call.merchant_id, status=q.status, plan_id=q.plan, subscriber_id=q.subscriber, **q.page()
    )


@get(
    routes.API_V1_SUBSCRIPTION,
    summary="Retrieve a subscription",
    response=SubscriptionObject,
    errors=(404,),
    tag="subscriptions",
)
def get_subscription(call: ApiCall):
    return api_facade.get_subscription(call.merchant_id, call.ids["subscription_id"])


@post(
    routes.API_V1_SUBSCRIPTION_CANCEL,
    summary="Cancel a subscription, now or at the period end",
    response=SubscriptionObject,
    body=CancelBody,
    errors=(400, 404, 409),
    tag="subscriptions",
)
def cancel_subscription(call: ApiCall):
    return api_facade.cancel_subscription(
        call.merchant_id, call.ids["subscription_id"], key_id=call.key_id, at_period_end=call.body.at_period_end
    )


@post(
    routes.API_V1_SUBSCRIPTION_UNDO_CANCEL,
    summary="Undo a cancellation scheduled for the period end",
    response=SubscriptionObject,
    errors=(400, 404, 409),
    tag="subscriptions",
)
def undo_cancel_subscription(call: ApiCall):
    return api_facade.undo_cancellation(call.merchant_id, call.ids["subscription_id"], key_id=call.key_id)


ENDPOINTS = [list_subscriptions, get_subscription, cancel_subscription, undo_cancel_subscription]
