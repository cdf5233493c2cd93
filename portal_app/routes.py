"""Every path of the app and its URL builders: pages, portal, console, the HTTP API and webhooks.

Page routes use Reflex's `[param]` form; API patterns use Starlette's `{param:type}` form.
"""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import quote

from portal_app.settings import get_settings

# --- Merchant console pages ---------------------------------------------------------------
CONSOLE = "/console"  # sign in
CONSOLE_SIGNUP = "/console/signup"
CONSOLE_HOME = "/console/dashboard"
CONSOLE_PLANS = "/console/plans"
CONSOLE_PLAN = "/console/plans/[plan_id]"  # one plan and its subscribers
CONSOLE_SUBSCRIBERS = "/console/subscribers"
CONSOLE_SUBSCRIBER = "/console/subscribers/[subscriber_id]"  # one subscriber's profile
CONSOLE_OUTBOX = "/console/outbox"
CONSOLE_SETTINGS = "/console/settings"
CONSOLE_WEBHOOKS = "/console/webhooks"  # webhook endpoints and their delivery logs

# --- Hosted signup (public, one page per plan) ---------------------------------------------
SIGNUP = "/signup/[merchant_slug]/[plan_id]"

# --- Subscriber portal pages --------------------------------------------------------------
PORTAL = "/portal"  # the portal after the token has been exchanged for a session
PORTAL_TOKEN = "/portal/[token]"
PORTAL_INVALID = "/invalid-link"  # outside /portal/*, which the token route owns
# A short-lived, single-use portal session (POST /api/v1/portal_sessions, the signup page's landing):
# exchanged for a portal session cookie like the lasting link, never revoking that link.
PORTAL_GRANT_EXCHANGE = f"{PORTAL}/session/{{token}}"

# --- HTTP API (Starlette, mounted in front of Reflex) -------------------------------------
API_PREFIX = "/api"
HEALTH = f"{API_PREFIX}/health"  # readiness: database (and Redis when configured)
HEALTH_LIVE = f"{HEALTH}/live"  # liveness: the worker answers
PORTAL_EXCHANGE = f"{PORTAL}/{{token}}"  # swaps a link token for a session cookie, before any page loads
API_PORTAL = f"{API_PREFIX}/portal"  # a subscriber's downloads (never cached)
API_INVOICE_PDF = f"{API_PORTAL}/invoices/{{invoice_id:int}}.pdf"
API_INVOICE_YEAR_ZIP = f"{API_PORTAL}/invoices/{{year:int}}.zip"
API_CREDIT_NOTE_PDF = f"{API_PORTAL}/credit_notes/{{credit_note_id:int}}.pdf"
API_MERCHANT_LOGO = f"{API_PREFIX}/merchants/{{slug}}/logo"
API_CONSOLE_LOGIN = f"{API_PREFIX}/console/login"
API_CONSOLE_SIGNUP = f"{API_PREFIX}/console/signup"
API_CONSOLE_LOGOUT = f"{API_PREFIX}/console/logout"
API_CONSOLE_SIGN_OUT_EVERYWHERE = f"{API_PREFIX}/console/logout-everywhere"
API_CONSOLE_PASSWORD = f"{API_PREFIX}/console/password"
API_CONSOLE_LOGO = f"{API_PREFIX}/console/logo"  # POST multipart/form-data from the settings page
# Reflex's own upload endpoint (reflex.constants.Endpoint.UPLOAD): refused in front of Reflex.
REFLEX_UPLOAD = "/_upload"
REFLEX_UPLOADED_FILES = f"{REFLEX_UPLOAD}/{{path:path}}"
STRIPE_WEBHOOK = f"{API_PREFIX}/stripe/webhook"
# The simulated gateway's tokenizer (its Stripe.js endpoint): a card in, a pm_ id out.
API_SIMULATED_PAYMENT_METHODS = f"{API_PREFIX}/simulated-gateway/v1/payment_methods"
API_CONSOLE_PORTAL_LINK = f"{API_PREFIX}/console/subscribers/{{subscriber_id:int}}/portal-link"  # the link, on demand
# Console: a new API key, created by the settings page's browser and answered to it once (never state).
API_CONSOLE_API_KEYS = f"{API_PREFIX}/console/api-keys"
# Console CSV downloads, streamed; filters in the query string (api/exports.py).
API_CONSOLE_EXPORT_SUBSCRIBERS = f"{API_PREFIX}/console/exports/subscribers.csv"
API_CONSOLE_EXPORT_INVOICES = f"{API_PREFIX}/console/exports/invoices.csv"
# The merchant REST API (api/v1/): Bearer API keys, JSON, OpenAPI at API_V1_OPENAPI.
API_V1 = f"{API_PREFIX}/v1"
API_V1_OPENAPI = f"{API_V1}/openapi.json"
API_V1_INVOICE_PDF = f"{API_V1}/invoices/{{invoice_id:int}}.pdf"
API_V1_PLANS = f"{API_V1}/plans"
API_V1_PLAN = f"{API_V1_PLANS}/{{plan_id}}"
API_V1_SUBSCRIBERS = f"{API_V1}/subscribers"
API_V1_SUBSCRIBER = f"{API_V1_SUBSCRIBERS}/{{subscriber_id}}"
API_V1_SUBSCRIBER_PORTAL_LINK = f"{API_V1_SUBSCRIBER}/portal_link"
API_V1_SUBSCRIPTIONS = f"{API_V1}/subscriptions"
API_V1_SUBSCRIPTION = f"{API_V1_SUBSCRIPTIONS}/{{subscription_id}}"
API_V1_SUBSCRIPTION_CANCEL = f"{API_V1_SUBSCRIPTION}/cancel"
API_V1_SUBSCRIPTION_UNDO_CANCEL = f"{API_V1_SUBSCRIPTION}/undo_cancel"
API_V1_SUBSCRIPTION_PREVIEW_CHANGE = f"{API_V1_SUBSCRIPTION}/preview_change"
API_V1_SUBSCRIPTION_CHANGE_PLAN = f"{API_V1_SUBSCRIPTION}/change_plan"
API_V1_INVOICES = f"{API_V1}/invoices"
API_V1_INVOICE = f"{API_V1_INVOICES}/{{invoice_id}}"  # after API_V1_INVOICE_PDF in the route table
API_V1_INVOICE_REFUND = f"{API_V1_INVOICE}/refund"
API_V1_CREDIT_NOTES = f"{API_V1}/credit_notes"
API_V1_WEBHOOK_ENDPOINTS = f"{API_V1}/webhook_endpoints"
API_V1_WEBHOOK_ENDPOINT = f"{API_V1_WEBHOOK_ENDPOINTS}/{{endpoint_id}}"
API_V1_EVENTS = f"{API_V1}/events"
API_V1_PORTAL_SESSIONS = f"{API_V1}/portal_sessions"
API_V1_UNKNOWN = f"{API_V1}/{{rest:path}}"  # any other /api/v1 URL: a JSON 404
REFLEX_EVENT = "/_event"  # Reflex's Socket.IO endpoint (reflex_base.constants.Endpoint.EVENT)

PORTAL_SESSION_COOKIE = "portal_session"
CONSOLE_SESSION_COOKIE = "console_session"
CONSOLE_DEVICE_COOKIE = "console_device"  # a known browser of an account (billing/login_devices.py)


def _public_url() -> str:
    return get_settings().public_url.rstrip("/")


# The steps a link may open the portal at (?flow=): the card form, the cancel dialog, the invoice list
# (the same list as billing/portal_grants.FLOWS; tests/unit/test_routes.py keeps them equal).
PORTAL_FLOWS = ("payment_method_update", "subscription_cancel", "subscription_update", "invoices")
# Why a portal link or session is unusable, as the invalid-link page explains it (?reason=).
INVALID_REASONS = ("revoked", "deleted", "ended")


def portal_url(token: str, *, flow: str = "") -> str:
    """The subscriber's long-lived link (absolute, for emails and the console), optionally opening
    the portal at one step: portal_url(token, flow="payment_method_update") for dunning emails."""
    if flow and flow not in PORTAL_FLOWS:
        raise ValueError(f"unknown portal flow {flow!r}")
    query = f"?flow={flow}" if flow else ""
    return f"{_public_url()}{PORTAL}/{quote(token, safe='')}{query}"


def invalid_link_signature(reason: str, merchant_slug: str) -> str:
    """What makes a branded invalid-link page believable: an HMAC of its reason and merchant, so a
    crafted URL cannot show "This subscription was removed" under a merchant's name and logo."""
    key = get_settings().secret_key.encode()
    return hmac.new(key, f"invalid-link:{reason}:{merchant_slug}".encode(), hashlib.sha256).hexdigest()[:20]


def portal_invalid_url(reason: str = "", *, merchant_slug: str = "", lang: str = "") -> str:
    """The invalid-link page (relative), branded and worded for `reason` when the merchant is known
    (`s` signs that pair; the page words an unsigned one generically). Nothing here is a secret: the
    slug, reason and language are public facts."""
    params = {}
    if reason in INVALID_REASONS:
        params["reason"] = reason
    if merchant_slug:
        params["m"] = merchant_slug
    if lang:
        params["lang"] = lang
    if merchant_slug:
        params["s"] = invalid_link_signature(params.get("reason", ""), merchant_slug)
    return _with_query(PORTAL_INVALID, params) if params else PORTAL_INVALID


def signup_url(merchant_slug: str, plan_id: int) -> str:
    """A plan's public hosted signup page (absolute: the console's Copy button, the API's plans)."""
    return f"{_public_url()}/signup/{quote(merchant_slug, safe='')}/{int(plan_id)}"


def portal_grant_url(token: str) -> str:
    """A short-lived portal session's single-use address (absolute)."""
    return f"{_public_url()}{PORTAL}/session/{quote(token, safe='')}"


def api_invoice_pdf_url(invoice_id: int) -> str:
    """An invoice's PDF through the REST API (same Bearer key; relative to PUBLIC_URL)."""
    return f"{API_V1}/invoices/{int(invoice_id)}.pdf"


def merchant_logo_url(slug: str, version: str = "") -> str:
    return f"{API_PREFIX}/merchants/{quote(slug, safe='')}/logo" + (f"?v={version}" if version else "")


def invoice_pdf_url(invoice_id: int) -> str:
    return f"{API_PORTAL}/invoices/{int(invoice_id)}.pdf"


def credit_note_pdf_url(credit_note_id: int) -> str:
    return f"{API_PORTAL}/credit_notes/{int(credit_note_id)}.pdf"


def invoice_year_zip_url(year: int) -> str:
    return f"{API_PORTAL}/invoices/{int(year)}.zip"


def console_plan_url(plan_id: int) -> str:
    return f"{CONSOLE_PLANS}/{int(plan_id)}"


def console_subscriber_url(subscriber_id: int) -> str:
    return f"{CONSOLE_SUBSCRIBERS}/{int(subscriber_id)}"


def console_portal_link_url(subscriber_id: int) -> str:
    return f"{API_PREFIX}/console/subscribers/{int(subscriber_id)}/portal-link"


def _with_query(path: str, params: dict[str, object]) -> str:
    query = "&".join(f"{quote(k, safe='')}={quote(str(v), safe='')}" for k, v in params.items() if v not in ("", None))
    return f"{path}?{query}" if query else path


def console_subscribers_csv_url(**filters: object) -> str:
    """The subscribers CSV with the list's filters (query, status, plan_id); empty ones left out."""
    return _with_query(API_CONSOLE_EXPORT_SUBSCRIBERS, filters)


def console_invoices_csv_url(**filters: object) -> str:
    """The invoices CSV with its filters (status, subscriber_id, plan_id, finalized_from, ...)."""
    return _with_query(API_CONSOLE_EXPORT_INVOICES, filters)


def console_login_error_url(code: str) -> str:
    """The sign-in page reporting a failed login ("invalid", "throttled")."""
    return f"{CONSOLE}?error={quote(code, safe='')}"


def console_settings_url(**codes: str) -> str:
    """The settings page reporting how a form post went, e.g. password="changed", logo_error="type"."""
    query = "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in codes.items())
    return f"{CONSOLE_SETTINGS}?{query}" if query else CONSOLE_SETTINGS


def console_signup_error_url(message: str) -> str:
    """The sign-up page echoing why the sign-up was refused."""
    return f"{CONSOLE_SIGNUP}?error={quote(message)}"


def console_webhooks_url() -> str:
    """The console's webhooks page (absolute, for the email about a disabled endpoint)."""
    return f"{_public_url()}{CONSOLE_WEBHOOKS}"
