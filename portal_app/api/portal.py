"""The subscriber's HTTP routes: the portal link exchange and invoice downloads.

GET /portal/<token> is answered here before the single-page app loads, so the token leaves the
address bar at once and never reaches Reflex state.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from portal_app import routes
from portal_app.api.headers import client_ip, cookie_header, set_session_cookie
from portal_app.billing import sessions
from portal_app.billing.facades import downloads
from portal_app.ratelimit import RateLimiter

# Invalid tokens per client IP: room for an office behind one NAT re-opening old emails, and
# nothing like the rate that enumerating 256-bit tokens would need.
invalid_token_limiter = RateLimiter("invalid-token", limit=60, window_seconds=600)


def _flow(request: Request) -> str:
    """The step the link asks to open (?flow=), when it is one of routes.PORTAL_FLOWS; else ""
    (an unknown value is dropped, never reflected)."""
    flow = request.query_params.get("flow", "")
    return flow if flow in routes.PORTAL_FLOWS else ""


def exchange_portal_token(request: Request) -> Response:
    """GET /portal/<token>[?flow=...]: open a portal session and redirect to /portal without the
    token (keeping a known flow); an unusable link goes to the invalid-link page with its reason,
    branded and in the subscriber's language when the link is known (revoked, deleted)."""
    ip = client_ip(request)
    if invalid_token_limiter.blocked(ip):
        return RedirectResponse(routes.PORTAL_INVALID, status_code=303)
    exchange = sessions.exchange_portal_token(request.path_params["token"], ip=ip)
    if exchange.secret is None:
        invalid_token_limiter.hit(ip)
        target = routes.portal_invalid_url(
            exchange.reason, merchant_slug=exchange.merchant_slug, lang=exchange.language
        )
        return RedirectResponse(target, status_code=303)
    flow = _flow(request)
    response = RedirectResponse(f"{routes.PORTAL}?flow={flow}" if flow else routes.PORTAL, status_code=303)
    set_session_cookie(response, sessions.PORTAL_SESSION, exchange.secret)
    return response


def _attachment(download: downloads.Download) -> Response:
    return Response(
        download.data,
        media_type=download.media_type,
        headers={"Content-Disposition": f'attachment; filename="{download.filename}"', "Cache-Control": "no-store"},
    )


def _not_signed_in(request: Request) -> Response:
    """A download without a live session: a browser navigation lands on the explained page
    ("ended", branded when the cookie names a session), not on a bare 401."""
    return RedirectResponse(sessions.ended_session_url(cookie_header(request)), status_code=303)


def _not_found() -> Response:
    return Response("Not found", status_code=404)


def portal_invoice_pdf(request: Request) -> Response:
    """GET /api/portal/invoices/<id>.pdf: one of the session's own invoices, whatever id is asked."""
    identity = sessions.portal_identity(cookie_header(request))
    if identity is None:
        return _not_signed_in(request)
    download = downloads.invoice_pdf(
        request.path_params["invoice_id"], merchant_id=identity.merchant_id, subscriber_id=identity.subscriber_id
    )
    return _not_found() if download is None else _attachment(download)


def portal_credit_note_pdf(request: Request) -> Response:
    """GET /api/portal/credit_notes/<id>.pdf: one of the session's own credit notes."""
    identity = sessions.portal_identity(cookie_header(request))
    if identity is None:
        return _not_signed_in(request)
    download = downloads.credit_note_pdf(
        request.path_params["credit_note_id"], merchant_id=identity.merchant_id, subscriber_id=identity.subscriber_id
    )
    return _not_found() if download is None else _attachment(download)


def portal_year_zip(request: Request) -> Response:
    """GET /api/portal/invoices/<year>.zip: every invoice of that year, one PDF each."""
    identity = sessions.portal_identity(cookie_header(request))
    if identity is None:
        return _not_signed_in(request)
    year = request.path_params["year"]
    if not 2000 <= year <= 2100:
        return _not_found()
    download = downloads.invoice_year_zip(year, merchant_id=identity.merchant_id, subscriber_id=identity.subscriber_id)
    return _not_found() if download is None else _attachment(download)
