"""The merchant console's form posts: sign in, sign up, sign out, sign out everywhere and change
password (each answers with a redirect). Passwords and session secrets only ever travel in these
posts and in HttpOnly cookies, never through Reflex state or events.

Same-origin posts only (login CSRF). Failed logins are throttled by api/login_throttle.py; every
failure (unknown email, wrong password, throttled) gets the same answer after the same work.
"""

from __future__ import annotations

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from portal_app import routes
from portal_app.api import login_throttle
from portal_app.api.headers import (
    client_ip,
    cookie_header,
    cross_site_refused,
    delete_session_cookie,
    same_origin,
    set_device_cookie,
    set_session_cookie,
)
from portal_app.billing import accounts, login_devices, sessions
from portal_app.ratelimit import RateLimiter

signup_ip_limiter = RateLimiter("signup-ip", limit=10, window_seconds=3600)
# Wrong current passwords per user on the change-password form (a stolen session guessing).
password_change_limiter = RateLimiter("password-change", limit=5, window_seconds=900)


def _field(form: FormData, name: str, max_length: int) -> str:
    value = form.get(name, "")
    return value[:max_length] if isinstance(value, str) else ""


def _signed_in(secret: str, location: str = routes.CONSOLE_HOME) -> Response:
    response = RedirectResponse(location, status_code=303)
    set_session_cookie(response, sessions.CONSOLE_SESSION, secret)
    return response


def _login_failed() -> Response:
    return RedirectResponse(routes.console_login_error_url("invalid"), status_code=303)


async def console_login(request: Request) -> Response:
    """POST /api/console/login (form): password check, throttling, a fresh session and device cookie."""
    if not same_origin(request):
        return cross_site_refused()
    form = await request.form()
    email = _field(form, "email", 254)
    password = _field(form, "password", 1000)
    account, ip = login_devices.login_key(email), client_ip(request)
    header = cookie_header(request)
    device = login_devices.trusted_device(sessions.cookie_value(header, routes.CONSOLE_DEVICE_COOKIE), account)
    if not login_throttle.may_attempt(account=account, ip=ip, device=device):
        accounts.spend_password_check(password)
        return _login_failed()
    secret = accounts.sign_in(email=account, password=password, cookie_header=header)
    if secret is None:
        login_throttle.record_failure(account=account, ip=ip, device=device)
        return _login_failed()
    response = _signed_in(secret)
    set_device_cookie(response, login_devices.issue_device_token(account))
    return response


async def console_signup(request: Request) -> Response:
    """POST /api/console/signup (form): a new merchant and its owner, signed in."""
    if not same_origin(request):
        return cross_site_refused()
    form = await request.form()
    if not signup_ip_limiter.hit(client_ip(request)):
        return RedirectResponse(routes.console_signup_error_url("throttled"), status_code=303)
    email = _field(form, "email", 300)
    try:
        secret = accounts.sign_up_and_sign_in(
            company_name=_field(form, "company_name", 200), email=email, password=_field(form, "password", 1000)
        )
    except accounts.AccountError as err:
        return RedirectResponse(routes.console_signup_error_url(str(err)), status_code=303)
    response = _signed_in(secret)
    set_device_cookie(response, login_devices.issue_device_token(email))
    return response


async def console_logout(request: Request) -> Response:
    """POST /api/console/logout: the session ends server-side and its cookie is dropped."""
    if not same_origin(request):
        return cross_site_refused()
    sessions.sign_out_console(cookie_header(request))
    response = RedirectResponse(routes.CONSOLE, status_code=303)
    delete_session_cookie(response, sessions.CONSOLE_SESSION)
    return response


async def console_sign_out_everywhere(request: Request) -> Response:
    """POST /api/console/logout-everywhere: every console session of this user ends, on every browser."""
    if not same_origin(request):
        return cross_site_refused()
    sessions.sign_out_everywhere(cookie_header(request))
    response = RedirectResponse(routes.CONSOLE, status_code=303)
    delete_session_cookie(response, sessions.CONSOLE_SESSION)
    return response


async def console_change_password(request: Request) -> Response:
    """POST /api/console/password (form): current + new password; every session of the user ends and
    this browser continues on a fresh one."""
    if not same_origin(request):
        return cross_site_refused()
    header = cookie_header(request)
    identity = sessions.console_identity(header)
    if identity is None:
        return RedirectResponse(routes.CONSOLE, status_code=303)
    if password_change_limiter.blocked(str(identity.user_id)):
        return RedirectResponse(routes.console_settings_url(password_error="throttled"), status_code=303)
    form = await request.form()
    try:
        secret = accounts.change_password(
            cookie_header=header,
            current_password=_field(form, "current_password", 1000),
            new_password=_field(form, "new_password", 1000),
            repeated_password=_field(form, "repeat_password", 1000),
        )
    except accounts.PasswordChangeRefused as refused:
        if refused.code == "signed_out":
            return RedirectResponse(routes.CONSOLE, status_code=303)
        if refused.code == "current":
            password_change_limiter.hit(str(identity.user_id))
        return RedirectResponse(routes.console_settings_url(password_error=refused.code), status_code=303)
    response = _signed_in(secret, routes.console_settings_url(password="changed"))
    set_device_cookie(response, login_devices.issue_device_token(identity.email))
    return response
