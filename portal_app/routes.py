"""Route constants and URL builders: the one place that knows the app's URLs."""

from __future__ import annotations

from urllib.parse import quote

from portal_app.settings import get_settings

CONSOLE = "/console"
CONSOLE_SIGNUP = "/console/signup"
CONSOLE_HOME = "/console/dashboard"
CONSOLE_PLANS = "/console/plans"
CONSOLE_SUBSCRIBERS = "/console/subscribers"
CONSOLE_OUTBOX = "/console/outbox"
CONSOLE_SETTINGS = "/console/settings"
PORTAL = "/portal"  # the portal after the token has been exchanged for a session
PORTAL_TOKEN = "/portal/[token]"
PORTAL_INVALID = "/invalid-link"  # outside /portal/*, which the token route owns
API_PREFIX = "/api"
HEALTH = f"{API_PREFIX}/health"


def _public_url() -> str:

    return get_settings().public_url.rstrip("/")


def portal_url(token: str) -> str:
    """The subscriber's long-lived link (absolute, for emails and the console)."""
    return f"{_public_url()}{PORTAL}/{quote(token, safe='')}"


PORTAL_SESSION_COOKIE = "portal_session"
CONSOLE_SESSION_COOKIE = "console_session"


def portal_exchange_path() -> str:
    """Starlette route that swaps a link token for a session cookie (before any page loads)."""
    return f"{PORTAL}/{{token}}"


def merchant_logo_url(slug: str, version: str = "") -> str:
    return f"{API_PREFIX}/merchants/{quote(slug, safe='')}/logo" + (f"?v={version}" if version else "")


def invoice_pdf_url(invoice_id: int) -> str:
    return f"{API_PREFIX}/portal/invoices/{int(invoice_id)}.pdf"


def invoice_year_zip_url(year: int) -> str:
    return f"{API_PREFIX}/portal/invoices/{int(year)}.zip"


# Merchant console: one plan (its subscribers) and one subscriber's profile.
CONSOLE_PLAN = "/console/plans/[plan_id]"
CONSOLE_SUBSCRIBER = "/console/subscribers/[subscriber_id]"


def console_plan_url(plan_id: int) -> str:
    return f"{CONSOLE_PLANS}/{int(plan_id)}"


def console_subscriber_url(subscriber_id: int) -> str:
    return f"{CONSOLE_SUBSCRIBERS}/{int(subscriber_id)}"
