"""/portal: the subscriber's overview (plan, status), behind the portal session cookie."""

from __future__ import annotations

import reflex as rx

from portal_app import routes
from portal_app.billing import portal_view
from portal_app.components.badges import status_badge
from portal_app.components.layout import portal_frame
from portal_app.db import session_scope
from portal_app.settings import get_settings
from portal_app.state import PortalSessionState

_STATUS_LABELS = {
    "active": "Active",
    "trialing": "Trial",
    "past_due": "Past due",
    "unpaid": "Unpaid",
    "canceled": "Canceled",
    "incomplete": "Incomplete",
}


class PortalOverviewState(PortalSessionState):
    loaded: bool = False
    merchant_name: str = ""
    logo_url: str = ""
    subscriber_name: str = ""
    plan_name: str = ""
    status: str = ""
    status_label: str = ""
    test_mode: bool = False

    @rx.event
    def load(self):
        """on_load: authorize the session, then read the overview; no session -> generic page."""
        identity = self._portal_identity()
        if identity is None:
            self.loaded = False
            return rx.redirect(routes.PORTAL_INVALID, replace=True)
        merchant_id, subscriber_id = identity
        with session_scope() as session:
            summary = portal_view.portal_summary(session, merchant_id=merchant_id, subscriber_id=subscriber_id)
        if summary is None:
            return rx.redirect(routes.PORTAL_INVALID, replace=True)
        self.merchant_name = summary.merchant_name
        self.logo_url = (
            routes.merchant_logo_url(summary.merchant_slug, summary.logo_version) if summary.logo_version else ""
        )
        self.subscriber_name = summary.subscriber_name
        self.plan_name = summary.plan_name
        self.status = summary.subscription_status
        self.status_label = _STATUS_LABELS.get(summary.subscription_status, summary.subscription_status)
        self.test_mode = get_settings().gateway == "simulated"
        self.loaded = True


def overview_page() -> rx.Component:
    return rx.cond(
        PortalOverviewState.loaded,
        portal_frame(
            rx.card(
                rx.vstack(
                    rx.text("Hello, ", rx.text.strong(PortalOverviewState.subscriber_name), size="4",
                            data_testid="subscriber-name"),
                    rx.hstack(
                        rx.heading(PortalOverviewState.plan_name, size="6", as_="h2", data_testid="plan-name"),
                        rx.box(status_badge(PortalOverviewState.status, PortalOverviewState.status_label),
                               data_testid="subscription-status"),
                        align="center",
                        spacing="3",
                        wrap="wrap",
                    ),
                    spacing="3",
                ),
                size="3",
                width="100%",
            ),
            merchant_name=PortalOverviewState.merchant_name,
            logo_url=PortalOverviewState.logo_url,
            test_mode=PortalOverviewState.test_mode,
        ),
        rx.center(rx.spinner(size="3"), min_height="100vh", aria_label="Loading"),
    )
