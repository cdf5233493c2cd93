"""POST /api/console/logo: the merchant's logo, posted by the settings page's own form (multipart).

The request's own console cookie decides whose logo it is (nothing a tab or a client token says),
cross-site posts are refused, and the body is read at most MAX_UPLOAD_BYTES far: a larger upload is
answered 413 without reading the rest. The logo itself is checked by the settings facade (type by
magic bytes, size, a full decode). Reflex's own upload endpoint is refused in front of the app
(refuse_reflex_upload), so this is the only way a file reaches the server.
"""

from __future__ import annotations

from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from portal_app import routes
from portal_app.api.headers import cookie_header, cross_site_refused, same_origin
from portal_app.billing import sessions
from portal_app.billing.errors import BillingError
from portal_app.billing.facades.console import settings as settings_facade

# The whole request (multipart envelope included); the logo itself is capped lower by the facade.
MAX_UPLOAD_BYTES = 2 * 1024 * 1024
LOGO_FIELD = "logo"


def _too_large() -> Response:
    return Response(
        f"Upload refused: larger than {MAX_UPLOAD_BYTES // (1024 * 1024)} MB.",
        status_code=413,
        headers={"Connection": "close"},
    )


def _back(**codes: str) -> Response:
    return RedirectResponse(routes.console_settings_url(**codes), status_code=303)


async def _capped_body(request: Request) -> bytes | None:
    """The request body, or None as soon as it passes MAX_UPLOAD_BYTES (the rest is never read)."""
    declared = request.headers.get("content-length", "")
    if declared.isascii() and declared.isdigit() and int(declared) > MAX_UPLOAD_BYTES:
        return None
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_UPLOAD_BYTES:
            return None
    return bytes(body)


async def _logo_bytes(request: Request, body: bytes) -> bytes | None:
    """The file posted in the form's `logo` field, or None if there is no such file."""

    async def replay():
        yield body

    try:
        form = await MultiPartParser(request.headers, replay(), max_files=1, max_fields=5).parse()
    except (MultiPartException, AssertionError, KeyError, ValueError):
        return None
    try:
        upload = form.get(LOGO_FIELD)
        return await upload.read() if isinstance(upload, UploadFile) else None
    finally:
        await form.close()


async def upload_logo(request: Request) -> Response:
    """Same origin, a live console session, a body under the cap, then the facade's checks."""
    if not same_origin(request):
        return cross_site_refused()
    identity = sessions.console_identity(cookie_header(request))
    if identity is None:
        return RedirectResponse(routes.CONSOLE, status_code=303)
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        return _back(logo_error="logo_missing")
    body = await _capped_body(request)
    if body is None:
        return _too_large()
    data = await _logo_bytes(request, body)
    try:
        settings_facade.save_logo(merchant_id=identity.merchant_id, user_id=identity.user_id, data=data)
    except BillingError as err:
        return _back(logo_error=err.code if err.code in settings_facade.LOGO_ERRORS else "logo_unreadable")
    return _back(logo="updated")


async def refuse_reflex_upload(request: Request) -> Response:
    """Reflex's /_upload (and the files it would serve below it): nothing, whatever the method; the
    body is never read."""
    return Response("Not found", status_code=404, headers={"Connection": "close"})
