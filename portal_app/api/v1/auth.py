"""Who is calling the REST API: `Authorization: Bearer spk_...` (billing/api_keys.py), else 401.

The secret is read from the header and handed to the domain only: never logged, never echoed.
"""

from __future__ import annotations

from starlette.requests import Request

from portal_app.api.v1.errors import ApiError
from portal_app.billing.api_keys import ApiKeyIdentity
from portal_app.billing.facades import api as api_facade

_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="api"'}


def unauthenticated(message: str) -> ApiError:
    return ApiError(401, "invalid_api_key", message, type="authentication_error", headers=_CHALLENGE)


def bearer_secret(request: Request) -> str | None:
    """The Bearer credential of the request, or None when there is none."""
    header = request.headers.get("authorization", "")
    scheme, _, credential = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not credential.strip():
        return None
    return credential.strip()


def identify(request: Request) -> ApiKeyIdentity:
    """The merchant and key a request speaks for; ApiError 401 for no, unknown or revoked keys."""
    secret = bearer_secret(request)
    if secret is None:
        raise unauthenticated("No API key provided: send `Authorization: Bearer <your API key>`.")
    identity = api_facade.authenticate_key(secret)
    if identity is None:
        raise unauthenticated("Invalid API key provided.")
    return identity
