"""The console's CSV downloads: subscribers and invoices, with the filters of the screen they come
from, streamed to the browser as the rows are read (billing/exports.py: batches of 1000, one short
query each), so a 100k-row file never sits in memory or passes through Reflex's websocket.

Authorized by the request's own console session cookie (the merchant's rows only); every query
parameter is checked before the first byte is sent (bad or unknown: 400).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from portal_app.api.headers import cookie_header
from portal_app.billing import exports, sessions
from portal_app.models import utcnow

_NO_STORE = {"Cache-Control": "no-store"}


def _refused(status: int, error: str) -> Response:
    return JSONResponse({"error": error}, status_code=status, headers=_NO_STORE)


def _csv(chunks, what: str) -> Response:
    filename = f"{what}-{utcnow():%Y-%m-%d}.csv"
    return StreamingResponse(
        chunks,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"', **_NO_STORE},
    )


def _identity(request: Request):
    if request.headers.get("sec-fetch-site", "same-origin") not in ("same-origin", "none"):
        return None, _refused(403, "cross-site request refused")
    identity = sessions.console_identity(cookie_header(request))
    if identity is None:
        return None, _refused(401, "Not signed in")
    return identity, None


def console_subscribers_csv(request: Request) -> Response:
    """GET /api/console/exports/subscribers.csv?query=&status=&plan_id= (the subscribers list's filters)."""
    identity, refused = _identity(request)
    if refused is not None:
        return refused
    try:
        filters = exports.subscriber_filters_from_query(request.query_params.multi_items())
        chunks = exports.iter_subscribers_csv(
            merchant_id=identity.merchant_id,
            query=filters.query,
            status=filters.status,
            plan_id=filters.plan_id,
            bom=True,
        )
    except exports.ExportError as err:
        return _refused(400, err.message)
    return _csv(chunks, "subscribers")


def console_invoices_csv(request: Request) -> Response:
    """GET /api/console/exports/invoices.csv?status=&subscriber_id=&subscription_id=&plan_id=
    &finalized_from=&finalized_to= (dates YYYY-MM-DD or ISO 8601 times)."""
    identity, refused = _identity(request)
    if refused is not None:
        return refused
    try:
        filters = exports.invoice_filters_from_query(request.query_params.multi_items())
        chunks = exports.iter_invoices_csv(
            merchant_id=identity.merchant_id,
            status=filters.status,
            subscriber_id=filters.subscriber_id,
            subscription_id=filters.subscription_id,
            plan_id=filters.plan_id,
            finalized_from=filters.finalized_from,
            finalized_to=filters.finalized_to,
            bom=True,
        )
    except exports.ExportError as err:
        return _refused(400, err.message)
    return _csv(chunks, "invoices")
