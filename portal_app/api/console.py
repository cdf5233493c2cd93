"""The merchant console's form posts: sign in, sign up, sign out (each answers with a redirect).

Same-origin posts only (login CSRF); failed logins are throttled per client IP and per account.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from portal_app import routes
from portal_app.api.headers import (
    client_ip,
    cookie_header,
    cross_site_refused,
    delete_session_cookie,
    same_origin,
    set_session_cookie,
)
from portal_app.billing import accounts, sessions
from portal_app.ratelimit import RateLimiter

# Failed console logins: per client IP and per account, whichever trips first.
login_ip_limiter = RateLimiter("login-ip", limit=30, window_seconds=900)
login_account_limiter = RateLimiter("login-account", limit=10, window_seconds=900)
signup_ip_limiter = RateLimiter("signup-ip", limit=10, window_seconds=3600)


def _signed_in(secret: str) -> Response:
    response = RedirectResponse(routes.CONSOLE_HOME, status_code=303)
    set_session_cookie(response, sessions.CONSOLE_SESSION, secret)
    return response


async def console_login(request: Request) -> Response:
    """POST /api/console/login (form): password check, throttling, a fresh session cookie."""
    if not same_origin(request):
        return cross_site_refused()
    form = await request.form()
    email = str(form.get("email", ""))[:254].strip().lower()
    password = str(form.get("password", ""))
    ip = client_ip(request)
    if login_ip_limiter.blocked(ip) or login_account_limiter.blocked(email):
        return RedirectResponse(routes.console_login_error_url("throttled"), status_code=303)
    secret = accounts.sign_in(email=email, password=password, cookie_header=cookie_header(request))
    if secret is None:
        login_ip_limiter.hit(ip)
        login_account_limiter.hit(email)
        return RedirectResponse(routes.console_login_error_url("invalid"), status_code=303)
    return _signed_in(secret)


async def console_signup(request: Request) -> Response:
    """POST /api/console/signup (form): a new merchant and its owner, signed in."""
    if not same_origin(request):
        return cross_site_refused()
    form = await request.form()
    if not signup_ip_limiter.hit(client_ip(request)):
        return RedirectResponse(routes.console_signup_error_url("throttled"), status_code=303)
    try:
        secret = accounts.sign_up_and_sign_in(
            company_name=str(form.get("company_name", ""))[:200],
            email=str(form.get("email", ""))[:300],
            password=str(form.get("password", ""))[:1000],
        )
    except accounts.AccountError as err:
        return RedirectResponse(routes.console_signup_error_url(str(err)), status_code=303)
    return _signed_in(secret)


async def console_logout(request: Request) -> Response:
    """POST /api/console/logout: the session ends server-side and its cookie is dropped."""
    if not same_origin(request):
        return cross_site_refused()
    sessions.sign_out_console(cookie_header(request))
    response = RedirectResponse(routes.CONSOLE, status_code=303)
    delete_session_cookie(response, sessions.CONSOLE_SESSION)
    return response
