"""Console settings: how many days before a trial ends the subscriber is reminded (0 = off)."""

from __future__ import annotations

import reflex as rx

from portal_app.billing.errors import BillingError
from portal_app.billing.facades.console import plan_lifecycle as lifecycle_facade
from portal_app.components.console_layout import TAP, labelled, once_loaded
from portal_app.components.layout import error_callout
from portal_app.pages.console.base import ConsoleState, to_sign_in


class ConsoleTrialReminderState(ConsoleState):
    reminder_days: str = "3"
    reminder_error: str = ""
    reminder_form_key: int = 0

    @rx.event
    def load(self):
        identity = self._authorize()
        if identity is None:
            return to_sign_in()
        self.reminder_days = str(lifecycle_facade.get_trial_reminder_days(merchant_id=identity.merchant_id))
        self.reminder_error = ""
        self.reminder_form_key += 1

    @rx.event
    def save(self, form: dict):
        identity = self._authorize()
        if identity is None:
            return to_sign_in()
        try:
            days = lifecycle_facade.save_trial_reminder_days(
                merchant_id=identity.merchant_id, user_id=identity.user_id, form=form
            )
        except BillingError as err:
            self.reminder_error = err.message
            return None
        self.reminder_days, self.reminder_error = str(days), ""
        self.reminder_form_key += 1
        return rx.toast.success("Trial reminder saved.")


def trial_reminder_card() -> rx.Component:
    S = ConsoleTrialReminderState
    return rx.card(
        once_loaded(
            S.reminder_form_key,
            rx.form(
                rx.vstack(
                    rx.heading("Trial reminder", size="3", as_="h2"),
                    labelled(
                        "Remind subscribers before a trial ends (days)",
                        "trial-reminder-days",
                        rx.input(
                            id="trial-reminder-days",
                            name="trial_reminder_days",
                            default_value=S.reminder_days,
                            input_mode="numeric",
                            max_length=2,
                            size="3",
                            max_width="200px",
                        ),
                        hint="0 = no reminder. The email says the amount and date of the first charge.",
                    ),
                    error_callout(S.reminder_error, "trial-reminder-error"),
                    rx.button("Save reminder", type="submit", size="3", min_height=TAP),
                    spacing="3",
                    width="100%",
                ),
                key=S.reminder_form_key,
                on_submit=S.save,
                aria_label="Trial reminder",
            ),
        ),
        width="100%",
    )
