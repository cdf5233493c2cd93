"""The merchant REST API, /api/v1 (issue 12): Bearer API keys, JSON, cursor pagination,
Idempotency-Key on every POST, Stripe-like errors, a rate limit per key, OpenAPI at /api/v1/openapi.json.

Adding a route: write `@get(routes.API_V1_X, summary=..., response=Model, query=...)` (or `@post(...,
body=...)`) over a `def handler(call: ApiCall)` that calls a facade, put it in its module's ENDPOINTS
and that module in ENDPOINTS below. Routes, OpenAPI, the schemathesis fuzz and the tenancy test all
read this one table.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from portal_app import routes
from portal_app.api.v1 import (
    credit_notes,
    invoices,
    plan_changes,
    plans,
    portal_sessions,
    subscribers,
    subscriptions,
    webhooks,
)
from portal_app.api.v1.endpoints import Endpoint, dispatcher, unknown_url
from portal_app.api.v1.openapi import openapi_document

ENDPOINTS: list[Endpoint] = [
    *plans.ENDPOINTS,
    *subscribers.ENDPOINTS,
    *subscriptions.ENDPOINTS,
    *plan_changes.ENDPOINTS,
    *credit_notes.ENDPOINTS,  # before invoices: POST /invoices/{id}/refund
    *invoices.ENDPOINTS,
    *webhooks.ENDPOINTS,
    *portal_sessions.ENDPOINTS,
]

_EVERY_METHOD = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


async def openapi_json(request: Request) -> JSONResponse:
    """The OpenAPI document (public: it describes the API, it opens nothing)."""
    return JSONResponse(openapi_document(ENDPOINTS))


def api_v1_routes(endpoints: list[Endpoint] | None = None) -> list[Route]:
    """The Starlette routes of the API: one per path (its methods dispatched), then a JSON 404."""
    by_path: dict[str, list[Endpoint]] = {}
    for endpoint in endpoints or ENDPOINTS:
        by_path.setdefault(endpoint.path, []).append(endpoint)
    return [
        Route(routes.API_V1_OPENAPI, openapi_json, methods=["GET"]),
        *(Route(path, dispatcher(group), methods=_EVERY_METHOD) for path, group in by_path.items()),
        Route(routes.API_V1_UNKNOWN, unknown_url, methods=_EVERY_METHOD),
    ]
