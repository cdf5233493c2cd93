"""Plain HTTP routes beside the Reflex app: portal link exchange, downloads, console forms, logos,
the Stripe webhook, the simulated gateway's card tokenizer, health and the merchant REST API (v1/).

Mounted in front of Reflex (rx.App(api_transformer=...)), so in production, where one port serves
everything, these paths are answered before the single-page app loads. Routes never open a
database session: they call domain functions that own their transaction.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.routing import Route

from portal_app import routes
from portal_app.api.api_keys import console_create_api_key
from portal_app.api.assets import merchant_logo
from portal_app.api.console import (
    console_change_password,
    console_login,
    console_logout,
    console_sign_out_everywhere,
    console_signup,
)
from portal_app.api.exports import console_invoices_csv, console_subscribers_csv
from portal_app.api.headers import SecurityHeadersMiddleware
from portal_app.api.health import health, liveness
from portal_app.api.links import console_portal_link
from portal_app.api.logo_upload import refuse_reflex_upload, upload_logo
from portal_app.api.portal import exchange_portal_token, portal_credit_note_pdf, portal_invoice_pdf, portal_year_zip
from portal_app.api.portal_grants import exchange_portal_grant
from portal_app.api.request_id import RequestIdMiddleware
from portal_app.api.simulated_gateway import create_payment_method
from portal_app.api.stripe import stripe_routes
from portal_app.api.v1 import api_v1_routes
from portal_app.connections import HandshakeCookieMiddleware
from portal_app.forwarded import ForwardedClientMiddleware

# A function route answers GET only unless told; these must win for every method.
EVERY_METHOD = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


def build_api() -> Starlette:
    """The Starlette app Reflex mounts in front of itself, security headers on every response."""
    api = Starlette(
        routes=[
            Route(routes.HEALTH, health, methods=["GET"]),
            Route(routes.HEALTH_LIVE, liveness, methods=["GET"]),
            Route(routes.API_MERCHANT_LOGO, merchant_logo, methods=["GET"]),
            Route(routes.PORTAL_GRANT_EXCHANGE, exchange_portal_grant, methods=["GET"]),
            Route(routes.PORTAL_EXCHANGE, exchange_portal_token, methods=["GET"]),
            Route(routes.API_INVOICE_PDF, portal_invoice_pdf, methods=["GET"]),
            Route(routes.API_INVOICE_YEAR_ZIP, portal_year_zip, methods=["GET"]),
            Route(routes.API_CREDIT_NOTE_PDF, portal_credit_note_pdf, methods=["GET"]),
            Route(routes.API_CONSOLE_LOGIN, console_login, methods=["POST"]),
            Route(routes.API_CONSOLE_SIGNUP, console_signup, methods=["POST"]),
            Route(routes.API_CONSOLE_LOGOUT, console_logout, methods=["POST"]),
            Route(routes.API_CONSOLE_SIGN_OUT_EVERYWHERE, console_sign_out_everywhere, methods=["POST"]),
            Route(routes.API_CONSOLE_PASSWORD, console_change_password, methods=["POST"]),
            Route(routes.API_CONSOLE_LOGO, upload_logo, methods=["POST"]),
            # Reflex's upload endpoint and its file server: answered here, never reaching Reflex.
            Route(routes.REFLEX_UPLOAD, refuse_reflex_upload, methods=EVERY_METHOD),
            Route(routes.REFLEX_UPLOADED_FILES, refuse_reflex_upload, methods=EVERY_METHOD),
            Route(routes.API_SIMULATED_PAYMENT_METHODS, create_payment_method, methods=["POST"]),
            Route(routes.API_CONSOLE_PORTAL_LINK, console_portal_link, methods=["GET"]),
            Route(routes.API_CONSOLE_API_KEYS, console_create_api_key, methods=["POST"]),
            Route(routes.API_CONSOLE_EXPORT_SUBSCRIBERS, console_subscribers_csv, methods=["GET"]),
            Route(routes.API_CONSOLE_EXPORT_INVOICES, console_invoices_csv, methods=["GET"]),
            *stripe_routes(),
            *api_v1_routes(),  # the merchant REST API (Bearer keys; no cookies, no form CSRF)
        ]
    )
    api.add_middleware(SecurityHeadersMiddleware)
    api.add_middleware(HandshakeCookieMiddleware)  # Reflex's socket never sees the Cookie header
    api.add_middleware(RequestIdMiddleware)  # every log line of a request carries its id
    # Outermost (added last): every route, rate limit and Reflex's socket sees the real client
    # behind TRUSTED_PROXIES.
    api.add_middleware(ForwardedClientMiddleware)
    return api
