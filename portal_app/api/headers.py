"""The HTTP security edge shared by every route: response headers, client IP, same-origin posts
and session cookies (their names, lifetimes and storage are billing/sessions.py)."""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.middleware.base import BaseHTTPMiddleware
from starlette.requests import Request
from starlette.responses import Response

from portal_app import routes
from portal_app.billing.login_devices import DEVICE_TOKEN_MAX_AGE_SECONDS
from portal_app.billing.sessions import SessionKind
from portal_app.settings import get_settings

_NO_STORE_PREFIXES = (routes.PORTAL, routes.PORTAL_INVALID, routes.API_PORTAL, routes.CONSOLE)
# The frontend build's scripts and styles: Vite names each by a hash of its content, so a URL never
# changes meaning and browsers may keep it for a year without asking again.
HASHED_ASSETS_PREFIX = "/assets/"
IMMUTABLE = "public, max-age=31536000, immutable"


class SecurityHeadersMiddleware(BaseHTTPMiddleware):
    """No referrers anywhere (links carry bearer tokens); portal and console pages never cached; the
    build's content-hashed assets cached for good."""

    async def dispatch(self, request: Request, call_next):
        response = await call_next(request)
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        if request.url.path.startswith(_NO_STORE_PREFIXES):
            response.headers["Cache-Control"] = "no-store"
        elif request.url.path.startswith(HASHED_ASSETS_PREFIX) and response.status_code == 200:
            response.headers["Cache-Control"] = IMMUTABLE
        return response


def client_ip(request: Request) -> str:
    """The client's address: behind TRUSTED_PROXIES, forwarded.py has already put the real one in the scope."""
    return request.client.host if request.client else "unknown"


def cookie_header(request: Request) -> str:
    """The raw Cookie header: billing/sessions.py parses it, for routes and Reflex state alike."""
    return request.headers.get("cookie", "")


def same_origin(request: Request) -> bool:
    """Refuse cross-site form posts (login CSRF); browsers always send Origin on POST."""
    origin = request.headers.get("origin")
    if origin == "null":
        # Our Referrer-Policy: no-referrer makes browsers send "Origin: null" on form posts; they
        # still say where the request came from in Sec-Fetch-Site (not settable by scripts).
        return request.headers.get("sec-fetch-site") == "same-origin"
    if origin is None:
        return True
    # PUBLIC_URL, not the Host header: a reverse proxy may rewrite Host to its upstream's name.
    expected = web_origin(get_settings().public_url)
    return expected is not None and web_origin(origin) == expected


_DEFAULT_PORTS = {"http": 80, "https": 443}


def web_origin(url: str) -> tuple[str, str, int] | None:
    """(scheme, host, port) of a URL, default ports filled in; None if it is not an http(s) URL."""
    try:
        parts = urlsplit(url.strip())
        scheme, host, port = parts.scheme.lower(), (parts.hostname or ""), parts.port
    except ValueError:  # a port that is not a number
        return None
    if scheme not in _DEFAULT_PORTS or not host:
        return None
    return scheme, host, port if port is not None else _DEFAULT_PORTS[scheme]


def cross_site_refused() -> Response:
    return Response("cross-site request refused", status_code=403)


def set_session_cookie(response: Response, kind: SessionKind, secret: str) -> None:
    """HttpOnly, SameSite=Lax, Secure whenever the app is served over HTTPS; lives as long as the session may."""
    secure = get_settings().public_url.startswith("https://")
    response.set_cookie(
        kind.cookie, secret, max_age=kind.cookie_max_age_seconds, httponly=True, secure=secure, samesite="lax", path="/"
    )


def set_device_cookie(response: Response, token: str) -> None:
    """The known-device cookie (billing/login_devices.py): HttpOnly, sent only to the login route, so
    it never reaches the websocket handshake or any other page."""
    secure = get_settings().public_url.startswith("https://")
    response.set_cookie(
        routes.CONSOLE_DEVICE_COOKIE,
        token,
        max_age=DEVICE_TOKEN_MAX_AGE_SECONDS,
        httponly=True,
        secure=secure,
        samesite="strict",
        path=routes.API_CONSOLE_LOGIN,
    )


def delete_session_cookie(response: Response, kind: SessionKind) -> None:
    response.delete_cookie(kind.cookie, path="/")
