"""Plain HTTP routes beside the Reflex app: portal link exchange, downloads, logos, health.

Mounted in front of Reflex (rx.App(api_transformer=...)), so in production, where one port
serves everything, GET /portal/<token> is answered here before the single-page app loads:
the token leaves the address bar at once and never reaches Reflex state.
"""

from __future__ import annotations

import hashlib
from urllib.parse import quote

import sqlalchemy as sa
from sqlmodel import select
from starlette.applications import Starlette
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from portal_app import accounts, routes
from portal_app.billing import invoice_queries, invoices, portal_links
from portal_app.billing.errors import BillingError, NotFound
from portal_app.billing.pdf import invoice_pdf_filename
from portal_app.db import get_engine, session_scope
from portal_app.models import Merchant
from portal_app.ratelimit import RateLimiter
from portal_app.settings import get_settings
from portal_app.stripe_api import stripe_routes

# Failed console logins: per client IP and per account, whichever trips first.
login_ip_limiter = RateLimiter("login-ip", limit=30, window_seconds=900)
login_account_limiter = RateLimiter("login-account", limit=10, window_seconds=900)

# Invalid tokens per client IP: room for an office behind one NAT re-opening old emails, and
# nothing like the rate that enumerating 256-bit tokens would need.
invalid_token_limiter = RateLimiter("invalid-token", limit=60, window_seconds=600)
signup_ip_limiter = RateLimiter("signup-ip", limit=10, window_seconds=3600)

_NO_STORE_PREFIXES = (routes.PORTAL, routes.PORTAL_INVALID, f"{routes.API_PREFIX}/portal", routes.CONSOLE)


class SecurityHeadersMiddleware(BaseHTTPMiddleware):
    """No referrers anywhere (links carry bearer tokens); portal and console pages never cached."""

    async def dispatch(self, request: Request, call_next):
        response = await call_next(request)
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        if request.url.path.startswith(_NO_STORE_PREFIXES):
            response.headers["Cache-Control"] = "no-store"
        return response


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _cookie_secure() -> bool:
    return get_settings().public_url.startswith("https://")


def exchange_portal_token(request: Request) -> Response:
    """GET /portal/<token>: open a portal session and redirect to /portal without the token."""
    ip = client_ip(request)
    invalid = RedirectResponse(routes.PORTAL_INVALID, status_code=303)
    if invalid_token_limiter.blocked(ip):
        return invalid
    token = request.path_params["token"]
    with session_scope() as session:
        link = portal_links.resolve_portal_token(session, token)
        if link is None:
            invalid_token_limiter.hit(ip)
            return invalid
        secret = portal_links.open_portal_session(session, link)
        portal_links.record_portal_visit(session, link, ip=ip)
    response = RedirectResponse(routes.PORTAL, status_code=303)
    _set_session_cookie(
        response, routes.PORTAL_SESSION_COOKIE, secret, int(portal_links.PORTAL_SESSION_MAX_AGE.total_seconds())
    )
    return response


def _same_origin(request: Request) -> bool:
    """Refuse cross-site form posts (login CSRF); browsers always send Origin on POST."""
    origin = request.headers.get("origin")
    if origin == "null":
        # Our Referrer-Policy: no-referrer makes browsers send "Origin: null" on form posts; they
        # still say where the request came from in Sec-Fetch-Site (not settable by scripts).
        return request.headers.get("sec-fetch-site") == "same-origin"
    if origin is None:
        return True
    host = request.headers.get("host", "")
    return origin.split("://", 1)[-1] == host


def _set_session_cookie(response: Response, name: str, secret: str, max_age: int) -> None:
    response.set_cookie(name, secret, max_age=max_age, httponly=True, secure=_cookie_secure(), samesite="lax", path="/")


async def console_login(request: Request) -> Response:
    """POST /api/console/login (form): password check, throttling, a fresh session cookie."""
    if not _same_origin(request):
        return Response("cross-site request refused", status_code=403)
    form = await request.form()
    email = str(form.get("email", ""))[:254].strip().lower()
    password = str(form.get("password", ""))
    ip = client_ip(request)
    failed = RedirectResponse(f"{routes.CONSOLE}?error=invalid", status_code=303)
    if login_ip_limiter.blocked(ip) or login_account_limiter.blocked(email):
        return RedirectResponse(f"{routes.CONSOLE}?error=throttled", status_code=303)
    with session_scope() as session:
        user = accounts.authenticate(session, email=email, password=password)
        if user is None:
            login_ip_limiter.hit(ip)
            login_account_limiter.hit(email)
            return failed
        # Rotate: whatever session this browser had ends here.
        accounts.close_console_session(session, request.cookies.get(routes.CONSOLE_SESSION_COOKIE, ""))
        secret = accounts.open_console_session(session, user)
    response = RedirectResponse(routes.CONSOLE_HOME, status_code=303)
    _set_session_cookie(
        response, routes.CONSOLE_SESSION_COOKIE, secret, int(accounts.CONSOLE_SESSION_MAX_AGE.total_seconds())
    )
    return response


async def console_signup(request: Request) -> Response:
    """POST /api/console/signup (form): a new merchant and its owner, signed in."""
    if not _same_origin(request):
        return Response("cross-site request refused", status_code=403)
    form = await request.form()
    ip = client_ip(request)
    if not signup_ip_limiter.hit(ip):
        return RedirectResponse(f"{routes.CONSOLE_SIGNUP}?error=throttled", status_code=303)
    try:
        with session_scope() as session:
            user = accounts.sign_up(
                session,
                company_name=str(form.get("company_name", ""))[:200],
                email=str(form.get("email", ""))[:300],
                password=str(form.get("password", ""))[:1000],
            )
            secret = accounts.open_console_session(session, user)
    except accounts.AccountError as err:
        return RedirectResponse(f"{routes.CONSOLE_SIGNUP}?error={quote(str(err))}", status_code=303)
    response = RedirectResponse(routes.CONSOLE_HOME, status_code=303)
    _set_session_cookie(
        response, routes.CONSOLE_SESSION_COOKIE, secret, int(accounts.CONSOLE_SESSION_MAX_AGE.total_seconds())
    )
    return response


async def console_logout(request: Request) -> Response:
    if not _same_origin(request):
        return Response("cross-site request refused", status_code=403)
    with session_scope() as session:
        accounts.close_console_session(session, request.cookies.get(routes.CONSOLE_SESSION_COOKIE, ""))
    response = RedirectResponse(routes.CONSOLE, status_code=303)
    response.delete_cookie(routes.CONSOLE_SESSION_COOKIE, path="/")
    return response


def _portal_identity(request: Request) -> tuple[int, int] | None:
    secret = request.cookies.get(routes.PORTAL_SESSION_COOKIE, "")
    if not secret:
        return None
    with session_scope() as session:
        found = portal_links.resolve_portal_session(session, secret)
        return (found.merchant_id, found.subscriber_id) if found else None


def _attachment(data: bytes, media_type: str, filename: str) -> Response:
    return Response(
        data,
        media_type=media_type,
        headers={"Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store"},
    )


def portal_invoice_pdf(request: Request) -> Response:
    """GET /api/portal/invoices/<id>.pdf: one of the session's own invoices, whatever id is asked."""
    identity = _portal_identity(request)
    if identity is None:
        return Response("Not signed in", status_code=401)
    merchant_id, subscriber_id = identity
    try:
        with session_scope() as session:
            invoice = invoice_queries.get_invoice(
                session, request.path_params["invoice_id"], merchant_id=merchant_id, subscriber_id=subscriber_id
            )
            if invoice.status not in invoices.DOWNLOADABLE_STATUSES:
                raise NotFound("Invoice not found")
            data = invoice_queries.ensure_invoice_pdf(
                session, invoice.id, merchant_id=merchant_id, subscriber_id=subscriber_id
            )
            filename = invoice_pdf_filename(invoice)
    except BillingError:
        return Response("Not found", status_code=404)
    return _attachment(data, "application/pdf", filename)


def portal_year_zip(request: Request) -> Response:
    """GET /api/portal/invoices/<year>.zip: every invoice of that year, one PDF each."""
    identity = _portal_identity(request)
    if identity is None:
        return Response("Not signed in", status_code=401)
    year = request.path_params["year"]
    if not 2000 <= year <= 2100:
        return Response("Not found", status_code=404)
    merchant_id, subscriber_id = identity
    with session_scope() as session:
        filename, data, count = invoice_queries.year_zip_for_subscriber(session, subscriber_id, merchant_id, year)
    if count == 0:
        return Response("Not found", status_code=404)
    return _attachment(data, "application/zip", filename)


def merchant_logo(request: Request) -> Response:
    """A merchant's logo (public: it is shown on every portal page and email)."""
    slug = request.path_params["slug"]
    with session_scope() as session:
        merchant = session.exec(select(Merchant).where(Merchant.slug == slug)).first()
        if merchant is None or not merchant.logo_png:
            return Response(status_code=404)
        data, content_type = merchant.logo_png, merchant.logo_content_type or "image/png"
    return Response(
        data,
        media_type=content_type,
        headers={"Cache-Control": "public, max-age=3600", "ETag": hashlib.sha256(data).hexdigest()[:32]},
    )


def health(_request: Request) -> Response:
    try:
        with get_engine().connect() as conn:
            conn.execute(sa.text("SELECT 1"))
        db_ok = True
    except Exception:  # noqa: BLE001 - health reports, it does not raise
        db_ok = False
    return JSONResponse({"status": "ok" if db_ok else "degraded", "db": db_ok}, status_code=200 if db_ok else 503)


def build_api() -> Starlette:
    api = Starlette(
        routes=[
            Route(routes.HEALTH, health, methods=["GET"]),
            Route(f"{routes.API_PREFIX}/merchants/{{slug}}/logo", merchant_logo, methods=["GET"]),
            Route(routes.portal_exchange_path(), exchange_portal_token, methods=["GET"]),
            Route(f"{routes.API_PREFIX}/portal/invoices/{{invoice_id:int}}.pdf", portal_invoice_pdf, methods=["GET"]),
            Route(f"{routes.API_PREFIX}/portal/invoices/{{year:int}}.zip", portal_year_zip, methods=["GET"]),
            Route(f"{routes.API_PREFIX}/console/login", console_login, methods=["POST"]),
            Route(f"{routes.API_PREFIX}/console/signup", console_signup, methods=["POST"]),
            Route(f"{routes.API_PREFIX}/console/logout", console_logout, methods=["POST"]),
            *stripe_routes(),
        ]
    )
    api.add_middleware(SecurityHeadersMiddleware)
    return api
