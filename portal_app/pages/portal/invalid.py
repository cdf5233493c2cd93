"""The one generic answer for every unusable portal link (malformed, unknown, revoked, deleted),
with a "send me a new link" form that answers the same whether or not the email is known."""

from __future__ import annotations

import reflex as rx

from portal_app.billing.facades import portal as portal_facade
from portal_app.components.layout import centered_card
from portal_app.ratelimit import RateLimiter

new_link_ip_limiter = RateLimiter("new-link-ip", limit=10, window_seconds=3600)
new_link_email_limiter = RateLimiter("new-link-email", limit=3, window_seconds=3600)
_ANSWER = "If this email belongs to a subscription, a new link is on its way. Check your inbox."


class InvalidLinkState(rx.State):
    answer: str = ""

    @rx.event
    def request_link(self, form_data: dict):
        email = form_data.get("email") if isinstance(form_data, dict) else None
        if not isinstance(email, str) or not 3 <= len(email.strip()) <= 254 or "@" not in email:
            self.answer = "Please enter the email address your subscription uses."
            return
        email = email.strip().lower()
        # Same answer in every case; limits stop mail-bombing a subscriber or probing addresses.
        if new_link_ip_limiter.hit(self.router.session.client_ip or "unknown") and new_link_email_limiter.hit(email):
            portal_facade.request_new_link(email=email)
        self.answer = _ANSWER


def invalid_link_page() -> rx.Component:
    return centered_card(
        rx.heading("This link is no longer valid", size="6", as_="h1"),
        rx.text(
            "The link you used has expired or was replaced by a newer one. Enter the email address of "
            "your subscription and we'll send you a new link.",
            color_scheme="gray",
        ),
        rx.form(
            rx.vstack(
                rx.el.label("Email", html_for="new-link-email", font_weight="500"),
                rx.input(
                    id="new-link-email",
                    name="email",
                    type="email",
                    required=True,
                    max_length=254,
                    auto_complete="email",
                    size="3",
                    width="100%",
                ),
                rx.button("Send me a new link", type="submit", size="3", min_height="44px", width="100%"),
                spacing="2",
                width="100%",
            ),
            on_submit=InvalidLinkState.request_link,
            reset_on_submit=True,
            width="100%",
        ),
        rx.cond(
            InvalidLinkState.answer != "",
            rx.callout(
                InvalidLinkState.answer, icon="info", role="status", width="100%", data_testid="new-link-answer"
            ),
        ),
    )
