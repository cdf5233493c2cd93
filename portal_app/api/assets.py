"""GET /api/merchants/<slug>/logo: a merchant's logo (public, cached for an hour)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from portal_app.billing.facades import downloads


def merchant_logo(request: Request) -> Response:
    logo = downloads.merchant_logo(request.path_params["slug"])
    if logo is None:
        return Response(status_code=404)
    return Response(
        logo.data, media_type=logo.content_type, headers={"Cache-Control": "public, max-age=3600", "ETag": logo.etag}
    )
