"""POST /portal_sessions: a short-lived, single-use portal URL for the merchant's signed-in customer
(its "Manage billing" button), optionally opening a step (`flow`) and offering a way back
(`return_url`). The subscriber's lasting link is never revoked by it."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from portal_app import routes
from portal_app.api.v1.endpoints import ApiCall, post
from portal_app.api.v1.pagination import ObjectId
from portal_app.billing.facades import api_integration
from portal_app.billing.objects import PortalSessionObject


class PortalSessionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    subscriber_id: ObjectId
    return_url: str | None = Field(
        None, max_length=2000, description="Where the portal's 'Return to <merchant>' link goes (absolute URL)."
    )
    flow: Literal["payment_method_update", "subscription_cancel", "subscription_update", "invoices"] | None = Field(
        None, description="Open the portal at this step."
    )


@post(
    routes.API_V1_PORTAL_SESSIONS,
    summary="Create a portal session (a single-use URL valid for minutes)",
    response=PortalSessionObject,
    body=PortalSessionCreate,
    errors=(400, 404),
    tag="portal_sessions",
)
def create_portal_session(call: ApiCall):
    body: PortalSessionCreate = call.body
    return api_integration.create_portal_session(
        call.merchant_id,
        key_id=call.key_id,
        subscriber_id=body.subscriber_id,
        return_url=body.return_url,
        flow=body.flow,
    )


ENDPOINTS = [create_portal_session]
