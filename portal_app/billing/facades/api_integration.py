"""The REST API's integration calls (api/v1): webhook endpoints, the events they deliver, portal
sessions and the invoices CSV. Like facades/api.py: the key's merchant first, one transaction per
call, the public objects of billing/objects.py, NotFound for another merchant's ids."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from portal_app import db
from portal_app.billing import exports, portal_grants
from portal_app.billing.facades.api import ObjectPage, api_actor
from portal_app.billing.objects import EventObject, PortalSessionObject, WebhookEndpointObject
from portal_app.billing.webhooks_out import endpoints as webhook_endpoints
from portal_app.billing.webhooks_out import queries as webhook_queries
from portal_app.billing.webhooks_out.endpoints import EndpointView


def _endpoint_object(view: EndpointView, **extra: Any) -> WebhookEndpointObject:
    return WebhookEndpointObject(
        id=view.id,
        url=view.url,
        event_types=list(view.event_types),
        enabled=view.enabled,
        disabled_reason=view.disabled_reason or None,
        created=view.created_at,
        **extra,
    )


def create_webhook_endpoint(
    merchant_id: int, *, key_id: int, url: str, event_types: list[str] | None, now: datetime | None = None
) -> WebhookEndpointObject:
    """A new endpoint, with its signing secret (the only answer that carries it)."""
    with db.session_scope() as session:
        view, secret = webhook_endpoints.create_endpoint(
            session, merchant_id=merchant_id, url=url, event_types=event_types, actor=api_actor(key_id), now=now
        )
        return _endpoint_object(view, secret=secret)


def list_webhook_endpoints(merchant_id: int) -> ObjectPage:
    """Every live endpoint (at most webhooks_out.endpoints.MAX_ENDPOINTS: one page)."""
    with db.session_scope() as session:
        views = webhook_endpoints.list_endpoints(session, merchant_id=merchant_id)
    return ObjectPage([_endpoint_object(view) for view in reversed(views)], has_more=False)


def delete_webhook_endpoint(merchant_id: int, endpoint_id: int, *, key_id: int) -> WebhookEndpointObject:
    """Delete an endpoint: nothing more is sent to it. Answers the endpoint, `deleted: true`."""
    with db.session_scope() as session:
        view = webhook_endpoints.delete_endpoint(
            session, merchant_id=merchant_id, endpoint_id=endpoint_id, actor=api_actor(key_id)
        )
    return _endpoint_object(view, deleted=True)


def list_events(merchant_id: int, *, type: str | None, limit: int, starting_after: int | None) -> ObjectPage:
    """The events webhooks deliver, newest first; `next_cursor` continues the list."""
    with db.session_scope() as session:
        views = webhook_queries.list_events(
            session, merchant_id=merchant_id, limit=limit + 1, starting_after=starting_after, type=type
        )
    page, more = views[:limit], len(views) > limit
    data = [
        EventObject(id=view.id, type=view.type, created=view.created_at, data=view.payload.get("data", {}))
        for view in page
    ]
    return ObjectPage(data, more, last_cursor=page[-1].cursor if page else None)


def create_portal_session(
    merchant_id: int,
    *,
    key_id: int,
    subscriber_id: int,
    return_url: str | None,
    flow: str | None,
    now: datetime | None = None,
) -> PortalSessionObject:
    """A short-lived, single-use portal URL for the merchant's signed-in customer (its lasting link stays)."""
    with db.session_scope() as session:
        grant = portal_grants.create_portal_grant(
            session,
            merchant_id=merchant_id,
            subscriber_id=subscriber_id,
            return_url=return_url,
            flow=flow,
            actor=api_actor(key_id),
            now=now,
        )
    return PortalSessionObject(
        id=grant.id,
        subscriber_id=grant.subscriber_id,
        url=grant.url,
        expires_at=grant.expires_at,
        flow=grant.flow,
        return_url=grant.return_url,
    )


def invoices_csv(
    merchant_id: int, *, status: str | None, subscriber_id: int | None, subscription_id: int | None
) -> Iterator[str]:
    """The invoices CSV with the list's filters, streamed in batches (checked before the first row)."""
    return exports.iter_invoices_csv(
        merchant_id=merchant_id, status=status or "", subscriber_id=subscriber_id, subscription_id=subscription_id
    )
