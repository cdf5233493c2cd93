"""Console plan page: the plan's free trial and pausing fields (Plan.trial_days, Plan.pause_max_days)."""

from __future__ import annotations

import reflex as rx

from portal_app.billing.errors import BillingError
from portal_app.billing.facades.console import plan_lifecycle as lifecycle_facade
from portal_app.components.console_layout import TAP, labelled, once_loaded
from portal_app.components.layout import error_callout
from portal_app.pages.console.base import ConsoleState, to_sign_in


class ConsolePlanLifecycleState(ConsoleState):
    trial_days: str = "0"
    pause_max_days: str = "0"
    lifecycle_error: str = ""
    lifecycle_form_key: int = 0

    def _plan_id(self) -> str:
        value = self.router.page.params.get("plan_id", "")
        return value if isinstance(value, str) else ""

    @rx.event
    def load(self):
        identity = self._authorize()
        if identity is None:
            return to_sign_in()
        try:
            fields = lifecycle_facade.get_plan_lifecycle(merchant_id=identity.merchant_id, plan_id=self._plan_id())
        except BillingError:
            return None  # the plan page itself redirects away from a plan that is not this merchant's
        self.trial_days, self.pause_max_days = str(fields.trial_days), str(fields.pause_max_days)
        self.lifecycle_error = ""
        self.lifecycle_form_key += 1

    @rx.event
    def save(self, form: dict):
        identity = self._authorize()
        if identity is None:
            return to_sign_in()
        try:
            fields = lifecycle_facade.save_plan_lifecycle(
                merchant_id=identity.merchant_id, user_id=identity.user_id, plan_id=self._plan_id(), form=form
            )
        except BillingError as err:
            self.lifecycle_error = err.message
            return None
        self.trial_days, self.pause_max_days = str(fields.trial_days), str(fields.pause_max_days)
        self.lifecycle_error = ""
        self.lifecycle_form_key += 1
        return rx.toast.success("Trial and pausing saved.")


def plan_lifecycle_card() -> rx.Component:
    S = ConsolePlanLifecycleState
    return rx.card(
        once_loaded(
            S.lifecycle_form_key,
            rx.form(
                rx.vstack(
                    rx.heading("Free trial and pausing", size="3", as_="h2"),
                    rx.flex(
                        rx.box(
                            labelled(
                                "Free trial (days)",
                                "plan-trial-days",
                                rx.input(
                                    id="plan-trial-days",
                                    name="trial_days",
                                    default_value=S.trial_days,
                                    input_mode="numeric",
                                    max_length=3,
                                    size="3",
                                    width="100%",
                                ),
                                hint="0 = no trial. New subscriptions start free and are first charged when it ends.",
                            ),
                            flex="1 1 220px",
                        ),
                        rx.box(
                            labelled(
                                "Pausing (longest pause in days)",
                                "plan-pause-days",
                                rx.input(
                                    id="plan-pause-days",
                                    name="pause_max_days",
                                    default_value=S.pause_max_days,
                                    input_mode="numeric",
                                    max_length=3,
                                    size="3",
                                    width="100%",
                                ),
                                hint="0 = subscribers can't pause. A pause starts at the end of the paid period.",
                            ),
                            flex="1 1 220px",
                        ),
                        spacing="3",
                        wrap="wrap",
                        width="100%",
                    ),
                    error_callout(S.lifecycle_error, "plan-lifecycle-error"),
                    rx.button("Save trial and pausing", type="submit", size="3", min_height=TAP),
                    spacing="3",
                    width="100%",
                ),
                key=S.lifecycle_form_key,
                on_submit=S.save,
                aria_label="Free trial and pausing",
            ),
        ),
        width="100%",
    )
