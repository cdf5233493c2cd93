"""GET /portal/session/<token>: a portal grant exchanged for a portal session cookie.

Answered before the single-page app loads, like the lasting link's exchange (api/portal.py): the
token leaves the address bar at once (303 to /portal, with the grant's flow), and a bad, expired or
used grant gets the same generic page and the same invalid-token rate limit as a bad link.
"""

from __future__ import annotations

from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from portal_app import routes
from portal_app.api import portal as portal_routes  # its invalid-token limiter, shared (one budget per IP)
from portal_app.api.headers import client_ip, set_session_cookie
from portal_app.billing import portal_grants, sessions


def exchange_portal_grant(request: Request) -> Response:
    """Open a portal session from a single-use grant and redirect to /portal (?flow=...) without the token."""
    ip = client_ip(request)
    invalid = RedirectResponse(routes.PORTAL_INVALID, status_code=303)
    if portal_routes.invalid_token_limiter.blocked(ip):
        return invalid
    redeemed = portal_grants.redeem_portal_grant(request.path_params["token"], ip=ip)
    if redeemed is None:
        portal_routes.invalid_token_limiter.hit(ip)
        return invalid
    target = routes.PORTAL + (f"?{urlencode({'flow': redeemed.flow})}" if redeemed.flow else "")
    response = RedirectResponse(target, status_code=303)
    set_session_cookie(response, sessions.PORTAL_SESSION, redeemed.secret)
    response.headers["Cache-Control"] = "no-store"
    return response
