"""Portal section: pause the subscription until a chosen day (the plan's range), see the pause or the
trial, and resume now (or take back a pause that has not started)."""

from __future__ import annotations

import reflex as rx

from portal_app import i18n
from portal_app.billing.errors import BillingError
from portal_app.billing.facades import portal as portal_facade
from portal_app.billing.facades import portal_pause
from portal_app.components.layout import dismiss_button
from portal_app.pages.portal import toasts
from portal_app.pages.portal.overview import PortalState

TAP = "44px"
L = PortalState.lifecycle


class PortalPauseState(PortalState):
    dialog_open: bool = False
    resume_on: str = ""
    error: str = ""

    @rx.event
    def set_dialog_open(self, value: bool):
        if self._portal_identity() is None:
            return self._to_invalid()
        self.dialog_open = value is True and self.lifecycle.get("can_pause") == "1"
        self.resume_on = self.lifecycle.get("first", "") if self.dialog_open else ""
        self.error = ""

    @rx.event
    def set_resume_on(self, value: str):
        if self._portal_identity() is None:
            return self._to_invalid()
        self.resume_on = value if isinstance(value, str) and len(value) <= portal_pause.MAX_DATE_TEXT else ""

    @rx.event
    def confirm_pause(self, form_data: dict):
        identity = self._portal_identity()
        if identity is None:
            return self._to_invalid()
        value = form_data.get("resume_on", "") if isinstance(form_data, dict) else None
        try:
            starts = portal_pause.pause(merchant_id=identity[0], subscriber_id=identity[1], resume_on=value)
        except BillingError as err:
            self.error = portal_facade.error_text(err, self.lang)
            return
        self.dialog_open = False
        self._refresh(*identity)
        return toasts.ok(i18n.t(self.lang, "toast_paused", date=i18n.fmt_date(starts, self.lang)))

    @rx.event
    def resume_now(self):
        identity = self._portal_identity()
        if identity is None:
            return self._to_invalid()
        try:
            outcome = portal_pause.resume(merchant_id=identity[0], subscriber_id=identity[1])
        except BillingError as err:
            return toasts.fail(portal_facade.error_text(err, self.lang))
        self._refresh(*identity)
        if not outcome.resumed:
            return toasts.ok(self.tx["toast_pause_undone"])
        if outcome.charge is not None and not outcome.charge.paid:
            return toasts.fail(self.tx["resume_payment_failed"])
        return toasts.ok(self.tx["toast_resumed"])


def pause_dialog() -> rx.Component:
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title(PortalPauseState.tx["pause_title"]),
            rx.dialog.description(L["note"]),
            rx.form(
                rx.vstack(
                    rx.el.label(PortalPauseState.tx["resume_on"], html_for="pause-resume-on", font_weight="500"),
                    rx.input(
                        id="pause-resume-on",
                        name="resume_on",
                        type="date",
                        min=L["first"],
                        max=L["last"],
                        value=PortalPauseState.resume_on,
                        on_change=PortalPauseState.set_resume_on,
                        required=True,
                        size="3",
                        width="100%",
                        data_testid="pause-date",
                    ),
                    rx.text(L["range"], size="2", color_scheme="gray", data_testid="pause-range"),
                    rx.cond(
                        PortalPauseState.error != "",
                        rx.callout(PortalPauseState.error, color_scheme="red", role="alert", width="100%"),
                    ),
                    rx.flex(
                        rx.button(
                            PortalPauseState.tx["confirm_pause"],
                            type="submit",
                            size="3",
                            min_height=TAP,
                            data_testid="pause-confirm",
                        ),
                        dismiss_button(PortalPauseState.tx["keep_running"]),
                        spacing="3",
                        wrap="wrap",
                    ),
                    spacing="3",
                    width="100%",
                    margin_top="12px",
                ),
                on_submit=PortalPauseState.confirm_pause,
            ),
            max_width="480px",
        ),
        open=PortalPauseState.dialog_open,
        on_open_change=PortalPauseState.set_dialog_open,
    )


def lifecycle_lines() -> rx.Component:
    """A trial's end and first charge, or the pause: "Paused until ..." / "Pauses on ..., resumes ..."."""
    return rx.fragment(
        rx.cond(L["trial"] != "", rx.text(L["trial"], weight="bold", data_testid="trial-ends")),
        rx.cond(L["trial_then"] != "", rx.text(L["trial_then"], data_testid="trial-then")),
        rx.cond(L["status_line"] != "", rx.text(L["status_line"], weight="bold", data_testid="pause-status")),
    )


def pause_section() -> rx.Component:
    return rx.fragment(
        rx.cond(
            L["action"] == "resume",
            rx.button(
                PortalPauseState.tx["resume_now"],
                size="3",
                min_height=TAP,
                on_click=PortalPauseState.resume_now,
                data_testid="resume-now",
            ),
        ),
        rx.cond(
            L["action"] == "undo",
            rx.button(
                PortalPauseState.tx["undo_pause"],
                size="3",
                min_height=TAP,
                variant="outline",
                on_click=PortalPauseState.resume_now,
                data_testid="undo-pause",
            ),
        ),
        rx.cond(
            L["can_pause"] == "1",
            rx.fragment(
                rx.button(
                    PortalPauseState.tx["pause_subscription"],
                    size="3",
                    min_height=TAP,
                    variant="outline",
                    color_scheme="gray",
                    on_click=PortalPauseState.set_dialog_open(True),
                    data_testid="pause-button",
                ),
                pause_dialog(),
            ),
        ),
    )
