"""GET/POST /subscribers, GET /subscribers/{subscriber_id}, POST /subscribers/{subscriber_id}/portal_link.

A portal URL is a credential: it is in the answer that created it only (never in a list or a GET).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from portal_app import routes
from portal_app.api.v1.endpoints import ApiCall, get, post
from portal_app.api.v1.pagination import ListQuery, ObjectId, list_model
from portal_app.billing.facades import api as api_facade
from portal_app.billing.objects import SubscriberObject

SubscriberList = list_model(SubscriberObject, "SubscriberList")


class SubscriberListQuery(ListQuery):
    email_or_name: str | None = Field(
        None,
        max_length=100,
        pattern=r"^[^\x00-\x1f\x7f]*$",
        description="Subscribers whose email or name contains this (case-insensitive).",
    )


class SubscriberCreate(BaseModel):
    """Register a subscriber on a plan, without a card: they add one in the portal."""

    model_config = ConfigDict(extra="forbid", strict=True)
    name: str = Field(min_length=1, max_length=120)
    email: str = Field(min_length=3, max_length=254)
    plan: ObjectId = Field(description="The plan's id.")
    language: Literal["en", "es"] | None = Field(
        None, description="Emails and portal; the merchant's default if unset."
    )
    send_invitation: bool = Field(False, description="Email the subscriber their portal link, asking for a card.")


@get(
    routes.API_V1_SUBSCRIBERS,
    summary="List or search subscribers",
    response=SubscriberList,
    query=SubscriberListQuery,
    errors=(400,),
    tag="subscribers",
)
def list_subscribers(call: ApiCall):
    return api_facade.list_subscribers(call.merchant_id, query=call.query.email_or_name or "", **call.query.page())


@post(
    routes.API_V1_SUBSCRIBERS,
    summary="Register a subscriber on a plan (answers with their portal_url)",
    response=SubscriberObject,
    body=SubscriberCreate,
    errors=(400, 404, 409),
    tag="subscribers",
)
def create_subscriber(call: ApiCall):
    body: SubscriberCreate = call.body
    return api_facade.register_subscriber(
        call.merchant_id,
        key_id=call.key_id,
        plan_id=body.plan,
        name=body.name,
        email=body.email,
        language=body.language or "",
        send_invitation=body.send_invitation,
    )


@get(
    routes.API_V1_SUBSCRIBER,
    summary="Retrieve a subscriber",
    response=SubscriberObject,
    errors=(404,),
    tag="subscribers",
)
def get_subscriber(call: ApiCall):
    return api_facade.get_subscriber(call.merchant_id, call.ids["subscriber_id"])


@post(
    routes.API_V1_SUBSCRIBER_PORTAL_LINK,
    summary="Regenerate the subscriber's portal link (the old one stops working)",
    response=SubscriberObject,
    errors=(400, 404, 409),
    tag="subscribers",
)
def regenerate_portal_link(call: ApiCall):
    return api_facade.regenerate_portal_link(call.merchant_id, call.ids["subscriber_id"], key_id=call.key_id)


ENDPOINTS = [list_subscribers, create_subscriber, get_subscriber, regenerate_portal_link]
