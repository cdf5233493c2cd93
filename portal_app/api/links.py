"""The console's portal link, fetched by the merchant's browser at the moment it shows or copies it.

A portal URL opens the subscriber's portal for 30 days, so it is never a Reflex var (state is
pickled to `.states/` and Redis): the profile page asks this route instead, with the request's own
console session cookie, and gets the link of a subscriber of that merchant only.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from portal_app.api.headers import cookie_header
from portal_app.billing import sessions
from portal_app.billing.errors import BillingError
from portal_app.billing.facades.console import profile as profile_facade

_NO_STORE = {"Cache-Control": "no-store"}


def _answer(status: int, **body: str) -> Response:
    return JSONResponse(body, status_code=status, headers=_NO_STORE)


def console_portal_link(request: Request) -> Response:
    """GET /api/console/subscribers/<id>/portal-link: {"url": ...} for a signed-in merchant's own subscriber."""
    if request.headers.get("sec-fetch-site", "same-origin") not in ("same-origin", "none"):
        return _answer(403, error="cross-site request refused")
    identity = sessions.console_identity(cookie_header(request))
    if identity is None:
        return _answer(401, error="Not signed in")
    try:
        url = profile_facade.portal_link_url(
            merchant_id=identity.merchant_id, subscriber_id=request.path_params["subscriber_id"]
        )
    except BillingError as err:  # another merchant's subscriber reads as not found
        return _answer(404, error=err.message)
    return _answer(200, url=url)
