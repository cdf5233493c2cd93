"""The console's "Create API key": the browser posts here and gets the new secret back, once.

The secret is never a Reflex var (state is pickled to `.states/` and Redis): the settings page's
script posts the name to this route with the request's own console session cookie and puts the
answer into the dialog itself; Reflex hears only "created". Only the key's hash is stored.
"""

from __future__ import annotations

import json

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from portal_app.api.headers import cookie_header, same_origin
from portal_app.billing import sessions
from portal_app.billing.errors import BillingError
from portal_app.billing.facades.console import api_keys as api_keys_facade

_NO_STORE = {"Cache-Control": "no-store"}
MAX_BODY_BYTES = 4096


def _answer(status: int, **body: object) -> Response:
    return JSONResponse(body, status_code=status, headers=_NO_STORE)


async def console_create_api_key(request: Request) -> Response:
    """POST /api/console/api-keys {"name": "..."}: 201 {"id", "prefix", "secret"} for a signed-in merchant."""
    if not same_origin(request) or request.headers.get("sec-fetch-site", "same-origin") not in ("same-origin", "none"):
        return _answer(403, error="cross-site request refused")
    identity = sessions.console_identity(cookie_header(request))
    if identity is None:
        return _answer(401, error="Not signed in")
    body = await request.body()
    if len(body) > MAX_BODY_BYTES:
        return _answer(413, error="Request too large")
    try:
        data = json.loads(body or b"{}")
    except ValueError:
        return _answer(400, error="Send JSON.")
    if not isinstance(data, dict) or set(data) - {"name"}:
        return _answer(400, error='Send {"name": ...} only.')
    try:
        row, secret = api_keys_facade.create_key(
            merchant_id=identity.merchant_id, user_id=identity.user_id, name=data.get("name", "")
        )
    except BillingError as err:
        return _answer(400, error=err.message)
    return _answer(201, id=row.key_id, prefix=row.prefix, secret=secret)
