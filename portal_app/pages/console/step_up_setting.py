"""/console/settings: the "Require email verification for changes" switch (Merchant.step_up_required):
with it on, the portal emails a six-digit code before the card, the plan, a pause or a cancellation
changes, and allows changes for 10 minutes after the right code."""

from __future__ import annotations

import reflex as rx

from portal_app.billing.errors import BillingError
from portal_app.billing.facades.console import step_up_setting as step_up_facade
from portal_app.components.console_layout import TAP, section
from portal_app.pages.console.base import ConsoleState


class ConsoleStepUpState(ConsoleState):
    step_up_required: bool = False
    step_up_error: str = ""

    @rx.event
    def load_step_up(self):
        identity = self._authorize()
        if identity is not None:
            self.step_up_required = step_up_facade.step_up_required(merchant_id=identity.merchant_id)

    @rx.event
    def set_step_up_required(self, value: bool):
        identity = self._authorize()
        if identity is None:
            return None
        try:
            self.step_up_required = step_up_facade.set_step_up_required(
                merchant_id=identity.merchant_id, user_id=identity.user_id, value=value
            )
        except BillingError as err:
            self.step_up_error = err.message
            return None
        self.step_up_error = ""
        return rx.toast.success("Email verification is on." if value else "Email verification is off.")


def step_up_setting_section() -> rx.Component:
    S = ConsoleStepUpState
    return section(
        rx.el.label(
            rx.flex(
                rx.switch(
                    checked=S.step_up_required,
                    on_change=S.set_step_up_required,
                    size="3",
                    data_testid="step-up-switch",
                ),
                rx.text("Require email verification for changes", weight="medium"),
                spacing="3",
                align="center",
                min_height=TAP,
            ),
        ),
        rx.text(
            "Before a subscriber changes their card or plan or cancels in the portal, we email them a "
            "6-digit code; the right code allows changes for 10 minutes. Protects subscribers whose portal "
            "link was forwarded or leaked.",
            size="2",
            color_scheme="gray",
        ),
        rx.cond(S.step_up_error != "", rx.callout(S.step_up_error, color_scheme="red", role="alert")),
        title="Portal security",
        on_mount=S.load_step_up,
        data_testid="step-up-section",
    )
