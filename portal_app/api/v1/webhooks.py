"""POST/GET /webhook_endpoints, DELETE /webhook_endpoints/{endpoint_id}, GET /events.

The signing secret (whsec_...) is in the answer that created the endpoint only. Events are the ones
the webhooks deliver (the same id as their `webhook-id` header), newest first.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from portal_app import routes
from portal_app.api.v1.endpoints import ApiCall, delete, get, post
from portal_app.api.v1.pagination import ListQuery, list_model
from portal_app.billing.facades import api_integration
from portal_app.billing.objects import EventObject, EventType, WebhookEndpointObject

WebhookEndpointList = list_model(WebhookEndpointObject, "WebhookEndpointList")
EventList = list_model(EventObject, "EventList")


class WebhookEndpointCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    url: str = Field(
        min_length=8, max_length=2000, description="https:// (http:// and loopback only outside production)."
    )
    event_types: list[EventType] | None = Field(
        None, max_length=8, description="Only these event types; every type when left out or empty."
    )


class EventListQuery(ListQuery):
    type: EventType | None = Field(None, description="Only events of this type.")


@post(
    routes.API_V1_WEBHOOK_ENDPOINTS,
    summary="Register a webhook endpoint (answers with its signing secret, once)",
    response=WebhookEndpointObject,
    body=WebhookEndpointCreate,
    errors=(400, 404),
    tag="webhooks",
)
def create_webhook_endpoint(call: ApiCall):
    body: WebhookEndpointCreate = call.body
    return api_integration.create_webhook_endpoint(
        call.merchant_id, key_id=call.key_id, url=body.url, event_types=body.event_types
    )


@get(
    routes.API_V1_WEBHOOK_ENDPOINTS,
    summary="List webhook endpoints",
    response=WebhookEndpointList,
    tag="webhooks",
)
def list_webhook_endpoints(call: ApiCall):
    return api_integration.list_webhook_endpoints(call.merchant_id)


@delete(
    routes.API_V1_WEBHOOK_ENDPOINT,
    summary="Delete a webhook endpoint",
    response=WebhookEndpointObject,
    errors=(404,),
    tag="webhooks",
)
def delete_webhook_endpoint(call: ApiCall):
    return api_integration.delete_webhook_endpoint(call.merchant_id, call.ids["endpoint_id"], key_id=call.key_id)


@get(
    routes.API_V1_EVENTS,
    summary="List events (the ones webhooks deliver), newest first",
    response=EventList,
    query=EventListQuery,
    errors=(400,),
    tag="webhooks",
)
def list_events(call: ApiCall):
    q: EventListQuery = call.query
    return api_integration.list_events(call.merchant_id, type=q.type, **q.page())


ENDPOINTS = [create_webhook_endpoint, list_webhook_endpoints, delete_webhook_endpoint, list_events]
