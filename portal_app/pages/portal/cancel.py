"""Portal section: cancel (when the plan allows it) with an optional reason, and undo until the
period ends."""

from __future__ import annotations

import reflex as rx

from portal_app import i18n
from portal_app.billing.errors import BillingError
from portal_app.billing.facades import portal as portal_facade
from portal_app.components.layout import dismiss_button
from portal_app.pages.portal import step_up, toasts
from portal_app.pages.portal.overview import PortalState

TAP = "44px"
REASON_KEYS = [(code, f"reason_{code}") for code in portal_facade.CANCEL_REASONS]


class PortalCancelState(PortalState):
    dialog_open: bool = False
    error: str = ""
    # The confirmed reason (code and text) while the step-up code is asked for (server side only).
    _pending_form: dict = {}
    _pending: bool = False

    @rx.event
    def set_dialog_open(self, value: bool):
        if self._portal_identity() is None:
            return self._to_invalid()
        self.dialog_open = value is True and self.can_cancel
        self.error = ""

    @rx.event
    def confirm_cancel(self, form_data: dict):
        identity = self._portal_identity()
        if identity is None:
            return self._to_invalid()
        if not isinstance(form_data, dict):
            self.error = "Invalid request."
            return
        return self._cancel(identity, form_data)

    def _cancel(self, identity, form_data: dict):
        try:
            result = portal_facade.cancel(
                merchant_id=identity[0],
                subscriber_id=identity[1],
                reason_code=form_data.get("reason", ""),
                reason_text=form_data.get("details", ""),
                portal_session_id=self._portal_session_id(),
            )
        except BillingError as err:
            self.error = portal_facade.error_text(err, self.lang)
            if ask := step_up.ask_again(err, "cancel"):  # the code first, then this same cancellation
                self._pending_form, self._pending, self.dialog_open, self.error = dict(form_data), True, False, ""
            return ask
        self.dialog_open = False
        self._refresh(*identity)
        if not result.immediate and result.access_ends_at is not None:
            date = i18n.fmt_date(result.access_ends_at, self.lang)
            return toasts.ok(i18n.t(self.lang, "toast_cancel_scheduled", date=date))
        return toasts.ok(self.tx["toast_canceled"])

    @rx.event
    def resume_cancel(self):
        """The step-up code was right: cancel with the reason confirmed before it was asked for."""
        identity = self._portal_identity()
        if identity is None:
            return self._to_invalid()
        pending, form, self._pending, self._pending_form = self._pending, self._pending_form, False, {}
        return self._cancel(identity, form) if pending else None

    @rx.event
    def undo_cancel(self):
        identity = self._portal_identity()
        if identity is None:
            return self._to_invalid()
        try:
            portal_facade.undo_cancel(merchant_id=identity[0], subscriber_id=identity[1])
        except BillingError as err:
            return toasts.fail(portal_facade.error_text(err, self.lang))
        self._refresh(*identity)
        return toasts.ok(self.tx["toast_undone"])


def cancel_dialog() -> rx.Component:
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title(PortalCancelState.tx["cancel_title"]),
            rx.dialog.description(PortalCancelState.cancel_note),
            rx.form(
                rx.vstack(
                    rx.el.fieldset(
                        rx.el.legend(PortalCancelState.tx["cancel_reason"], font_weight="500", margin_bottom="8px"),
                        rx.radio_group.root(
                            rx.vstack(
                                *[
                                    rx.el.label(
                                        rx.flex(
                                            rx.radio_group.item(value=code),
                                            rx.text(PortalCancelState.tx[key]),
                                            spacing="2",
                                            align="center",
                                            min_height=TAP,
                                        ),
                                    )
                                    for code, key in REASON_KEYS
                                ],
                                spacing="0",
                            ),
                            name="reason",
                        ),
                        border="none",
                        padding="0",
                        margin="0",
                    ),
                    rx.el.label(PortalCancelState.tx["reason_details"], html_for="cancel-details", font_weight="500"),
                    rx.text_area(id="cancel-details", name="details", max_length=500, width="100%"),
                    rx.cond(
                        PortalCancelState.error != "",
                        rx.callout(PortalCancelState.error, color_scheme="red", role="alert", width="100%"),
                    ),
                    rx.flex(
                        rx.button(
                            PortalCancelState.tx["confirm_cancel"],
                            type="submit",
                            color_scheme="red",
                            size="3",
                            min_height=TAP,
                            high_contrast=True,
                        ),
                        dismiss_button(PortalCancelState.tx["keep_subscription"]),
                        spacing="3",
                        wrap="wrap",
                    ),
                    spacing="3",
                    width="100%",
                    margin_top="12px",
                ),
                on_submit=PortalCancelState.confirm_cancel,
            ),
            max_width="480px",
        ),
        open=PortalCancelState.dialog_open,
        on_open_change=PortalCancelState.set_dialog_open,
    )


step_up.on_verified("cancel", lambda: PortalCancelState.resume_cancel)


def cancel_section(start_cancel=None) -> rx.Component:
    """Undo / Cancel subscription (start_cancel: what the button does first, e.g. the retention offer)."""
    return rx.fragment(
        rx.cond(
            PortalCancelState.can_undo,
            rx.button(
                PortalCancelState.tx["undo_cancel"], size="3", min_height=TAP, on_click=PortalCancelState.undo_cancel
            ),
        ),
        rx.cond(
            PortalCancelState.can_cancel,
            rx.fragment(
                rx.button(
                    PortalCancelState.tx["cancel_subscription"],
                    size="3",
                    min_height=TAP,
                    variant="outline",
                    color_scheme="gray",
                    on_click=start_cancel or PortalCancelState.set_dialog_open(True),
                    data_testid="cancel-button",
                ),
                cancel_dialog(),
            ),
        ),
        rx.cond(
            PortalCancelState.not_allowed_note != "",
            rx.text(
                PortalCancelState.not_allowed_before,
                rx.cond(
                    PortalCancelState.support_email != "",
                    rx.fragment(
                        rx.link(
                            PortalCancelState.merchant_name,
                            href="mailto:" + PortalCancelState.support_email,
                            rel="noreferrer",
                            display="inline-block",
                            min_height=TAP,
                            padding_y="12px",
                            data_testid="cancel-contact",
                        ),
                        PortalCancelState.not_allowed_after,
                    ),
                ),
                size="2",
                color_scheme="gray",
                data_testid="cancel-not-allowed",
            ),
        ),
    )
