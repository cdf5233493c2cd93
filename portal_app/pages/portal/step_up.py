"""Portal: the step-up dialog. When a protected change (card, cancel) answers StepUpRequired, or is
about to, the page opens this dialog: a code is emailed, the subscriber types it, and the change
that waited goes on (each protected section registers what "goes on" means with on_verified).

The typed code only passes through the verify handler's argument (field step_up_code, which the log
redaction masks): it is never kept in state, nor is the sent one (the server has only its HMAC)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import reflex as rx

from portal_app import i18n
from portal_app.billing.errors import BillingError
from portal_app.billing.facades import portal as portal_facade
from portal_app.billing.facades import portal_step_up
from portal_app.billing.facades.portal_step_up import StepUpRequired
from portal_app.components.layout import dismiss_button
from portal_app.pages.portal.overview import PortalState

TAP = "44px"
CODE_FIELD = "step_up_code"
# action -> the event that continues the change once the code is right (registered by its section).
_AFTER_VERIFY: dict[str, Callable[[], Any]] = {}


def on_verified(action: str, make_event: Callable[[], Any]) -> None:
    """Register what happens after a right code for `action` (e.g. "card" reopens the card form)."""
    _AFTER_VERIFY[action] = make_event


class PortalStepUpState(PortalState):
    step_open: bool = False
    step_hint: str = ""  # "We sent a 6-digit code to s***@example.com."
    step_error: str = ""
    step_action: str = ""  # the change that waits for the code (a registered action)

    def _send(self, identity) -> None:
        try:
            masked = portal_step_up.send_code(
                merchant_id=identity[0], subscriber_id=identity[1], portal_session_id=self._portal_session_id()
            )
        except BillingError as err:
            self.step_error = portal_facade.error_text(err, self.lang)
            return
        self.step_hint = i18n.t(self.lang, "step_up_sent", email=masked)
        self.step_error = ""

    @rx.event
    def ask(self, action: str):
        """Open the dialog for `action` and email a code."""
        identity = self._portal_identity()
        if identity is None:
            return self._to_invalid()
        if not isinstance(action, str) or action not in _AFTER_VERIFY:
            return None
        self.step_action, self.step_open, self.step_hint = action, True, ""
        self._send(identity)
        return None

    @rx.event
    def resend(self):
        """Send a new code (the one before stops working); rate-limited by the engine."""
        identity = self._portal_identity()
        if identity is None:
            return self._to_invalid()
        if self.step_open:
            self._send(identity)
        return None

    @rx.event
    def verify(self, form_data: dict):
        """Check the typed code; when right, close and continue the change that waited."""
        identity = self._portal_identity()
        if identity is None:
            return self._to_invalid()
        if not isinstance(form_data, dict) or not self.step_open:
            return None
        try:
            portal_step_up.verify_code(
                merchant_id=identity[0],
                subscriber_id=identity[1],
                portal_session_id=self._portal_session_id(),
                code=form_data.get(CODE_FIELD, ""),
            )
        except BillingError as err:
            self.step_error = portal_facade.error_text(err, self.lang)
            return None
        action, self.step_action = self.step_action, ""
        self.step_open, self.step_error, self.step_hint = False, "", ""
        make_event = _AFTER_VERIFY.get(action)
        return make_event() if make_event else None

    @rx.event
    def set_step_open(self, value: bool):
        if self._portal_identity() is None:
            return self._to_invalid()
        if value is not True:
            self.step_open, self.step_action, self.step_error = False, "", ""
        return None


def ask_first(state: PortalState, action: str):
    """The dialog's event when this session's protected change would be refused now, else None."""
    identity = state._portal_identity()
    if identity is None:
        return None
    needed = portal_step_up.needs_code(
        merchant_id=identity[0], subscriber_id=identity[1], portal_session_id=state._portal_session_id()
    )
    return PortalStepUpState.ask(action) if needed else None


def change_ids(state: PortalState, identity) -> dict[str, int | None]:
    """The keyword arguments of a protected facade call: who, and the portal session the code opened."""
    return {"merchant_id": identity[0], "subscriber_id": identity[1], "portal_session_id": state._portal_session_id()}


def ask_again(err: BillingError, action: str):
    """The dialog's event when a protected change answered StepUpRequired, else None."""
    return PortalStepUpState.ask(action) if isinstance(err, StepUpRequired) else None


def step_up_dialog() -> rx.Component:
    s = PortalStepUpState
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title(s.tx["step_up_title"]),
            rx.dialog.description(s.tx["step_up_why"]),
            rx.form(
                rx.vstack(
                    rx.cond(s.step_hint != "", rx.text(s.step_hint, data_testid="step-up-hint")),
                    rx.el.label(s.tx["step_up_code"], html_for="step-up-code", font_weight="500"),
                    rx.input(
                        id="step-up-code",
                        name=CODE_FIELD,
                        input_mode="numeric",
                        auto_complete="one-time-code",
                        max_length=6,
                        pattern="[0-9]{6}",
                        required=True,
                        size="3",
                        width="100%",
                        data_testid="step-up-code",
                    ),
                    rx.cond(
                        s.step_error != "",
                        rx.callout(s.step_error, color_scheme="red", role="alert", width="100%"),
                    ),
                    rx.flex(
                        rx.button(
                            s.tx["step_up_verify"],
                            type="submit",
                            size="3",
                            min_height=TAP,
                            data_testid="step-up-verify",
                        ),
                        rx.button(
                            s.tx["step_up_resend"],
                            type="button",
                            variant="soft",
                            size="3",
                            min_height=TAP,
                            on_click=s.resend,
                            data_testid="step-up-resend",
                        ),
                        dismiss_button(s.tx["cancel"]),
                        spacing="3",
                        wrap="wrap",
                    ),
                    spacing="3",
                    width="100%",
                    margin_top="12px",
                ),
                on_submit=s.verify,
                reset_on_submit=True,
            ),
            max_width="440px",
            data_testid="step-up-dialog",
        ),
        open=s.step_open,
        on_open_change=s.set_step_open,
    )
