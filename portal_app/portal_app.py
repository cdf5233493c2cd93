"""The Reflex app: pages, HTTP routes and the in-app billing tick. Nothing else."""

from __future__ import annotations

import reflex as rx

from portal_app import (
    logconfig,
    models,  # noqa: F401  (tables share SQLModel.metadata, which `reflex db` reads)
    routes,
)
from portal_app.api import build_api
from portal_app.backend_errors import calm_backend_exception_handler
from portal_app.background import billing_loop
from portal_app.components.document_language import document_language, page_title
from portal_app.event_ids import EventLogIdMiddleware
from portal_app.owners import ProtectedStateGuard
from portal_app.pages.console.api_keys import ConsoleApiKeysState
from portal_app.pages.console.dashboard import ConsoleDashboardState, dashboard_page
from portal_app.pages.console.login import ConsoleLoginState, login_page, signup_page
from portal_app.pages.console.outbox import ConsoleOutboxState, outbox_page
from portal_app.pages.console.plan import plan_page
from portal_app.pages.console.plan_lifecycle_fields import ConsolePlanLifecycleState
from portal_app.pages.console.plans import ConsolePlansState, plans_page
from portal_app.pages.console.profile import ConsoleProfileState, profile_page
from portal_app.pages.console.settings import ConsoleSettingsState, settings_page
from portal_app.pages.console.subscribers import ConsoleSubscribersState, subscribers_page
from portal_app.pages.console.trial_reminder_field import ConsoleTrialReminderState
from portal_app.pages.console.webhooks import ConsoleWebhooksState, webhooks_page
from portal_app.pages.portal.invalid import InvalidLinkState, invalid_link_page
from portal_app.pages.portal.overview import PortalState
from portal_app.pages.portal.page import portal_page
from portal_app.pages.signup.page import signup_page as hosted_signup_page
from portal_app.pages.signup.state import SignupState


def _portal() -> rx.Component:
    """The portal page, its <html lang> and title in the subscriber's language (after a switch too)."""
    return rx.fragment(document_language(PortalState.lang, page_title("portal", PortalState.lang)), portal_page())


def _signup() -> rx.Component:
    """The hosted signup page, its <html lang> and title ("Subscribe to <plan>") in the page's language."""
    title = rx.cond(SignupState.title != "", SignupState.title, page_title("signup", SignupState.lang))
    return rx.fragment(document_language(SignupState.lang, title), hosted_signup_page())


app = rx.App(api_transformer=build_api(), html_lang="en", backend_exception_handler=calm_backend_exception_handler)
# Each event's log lines carry its id (the event's txid; never the client token).
app.add_middleware(EventLogIdMiddleware())
# Before every event (hydrate included): portal and console states loaded for someone else are emptied.
app.add_middleware(ProtectedStateGuard())

# Merchant console
app.add_page(login_page, route=routes.CONSOLE, title="Sign in · Merchant console", on_load=ConsoleLoginState.load_login)
app.add_page(signup_page, route=routes.CONSOLE_SIGNUP, title="Create account", on_load=ConsoleLoginState.load_signup)
app.add_page(dashboard_page, route=routes.CONSOLE_HOME, title="Dashboard", on_load=ConsoleDashboardState.load)
app.add_page(plans_page, route=routes.CONSOLE_PLANS, title="Recurring Plans", on_load=ConsolePlansState.load)
app.add_page(
    plan_page,
    route=routes.CONSOLE_PLAN,
    title="Plan",
    on_load=[ConsoleSubscribersState.load_plan, ConsolePlanLifecycleState.load],
)
app.add_page(
    subscribers_page, route=routes.CONSOLE_SUBSCRIBERS, title="Subscribers", on_load=ConsoleSubscribersState.load_all
)
app.add_page(profile_page, route=routes.CONSOLE_SUBSCRIBER, title="Subscriber", on_load=ConsoleProfileState.load)
app.add_page(outbox_page, route=routes.CONSOLE_OUTBOX, title="Sent emails", on_load=ConsoleOutboxState.load)
app.add_page(webhooks_page, route=routes.CONSOLE_WEBHOOKS, title="Webhooks", on_load=ConsoleWebhooksState.load)
app.add_page(
    settings_page,
    route=routes.CONSOLE_SETTINGS,
    title="Settings",
    on_load=[ConsoleSettingsState.load, ConsoleApiKeysState.load, ConsoleTrialReminderState.load],
)

# Subscriber portal
app.add_page(_portal, route=routes.PORTAL, title="Your subscription", on_load=PortalState.load)
app.add_page(invalid_link_page, route=routes.PORTAL_INVALID, title="Link not valid", on_load=InvalidLinkState.load)

# Hosted signup (public, one page per plan)
app.add_page(_signup, route=routes.SIGNUP, title="Subscribe", on_load=SignupState.load)

# Billing runs and email delivery inside the app process (BILLING_TICK_SECONDS=0 turns runs off).
app.register_lifespan_task(billing_loop)
# In each backend worker: Reflex's, granian's and uvicorn's records through our one handler.
app.register_lifespan_task(logconfig.worker_logging)
