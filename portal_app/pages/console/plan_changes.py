"""Console controls for plan changes: on the settings page, when downgrades take effect; on a plan's
page, the plans its subscribers may switch to from the portal. Each loads itself on mount."""

from __future__ import annotations

import reflex as rx

from portal_app.billing.errors import BillingError
from portal_app.billing.facades.console import plan_change_settings as timing_facade
from portal_app.billing.facades.console import plan_switches as switches_facade
from portal_app.components.console_layout import TAP, section
from portal_app.components.layout import error_callout
from portal_app.pages.console.base import ConsoleState, to_sign_in

TIMING_LABELS = {
    "period_end": "At the end of the paid period (the subscriber keeps the current plan until then)",
    "immediately": "Immediately (the unused difference becomes credit on the next invoices; no refund)",
}


class DowngradeTimingState(ConsoleState):
    downgrade_timing: str = "period_end"
    timing_error: str = ""

    @rx.event
    def load_timing(self):
        identity = self._authorize()
        if identity is None:
            return to_sign_in()
        self.downgrade_timing = timing_facade.downgrade_timing(merchant_id=identity.merchant_id)
        self.timing_error = ""

    @rx.event
    def save_timing(self, value: str):
        identity = self._authorize()
        if identity is None:
            return to_sign_in()
        try:
            self.downgrade_timing = timing_facade.save_downgrade_timing(
                merchant_id=identity.merchant_id, user_id=identity.user_id, timing=value
            )
        except BillingError as err:
            self.timing_error = err.message
            return
        self.timing_error = ""
        return rx.toast.success("Downgrade timing saved.")


def downgrade_timing_section() -> rx.Component:
    S = DowngradeTimingState
    return section(
        rx.text(
            "An upgrade always takes effect at once, with a prorated invoice. A downgrade (a plan that costs "
            "less per day) takes effect:",
            size="2",
            color_scheme="gray",
        ),
        rx.radio_group.root(
            rx.vstack(
                *[
                    rx.el.label(
                        rx.flex(rx.radio_group.item(value=value), rx.text(label), spacing="2", align="center"),
                        min_height=TAP,
                        display="flex",
                        align_items="center",
                    )
                    for value, label in TIMING_LABELS.items()
                ],
                spacing="1",
            ),
            value=S.downgrade_timing,
            on_change=S.save_timing,
            name="downgrade_timing",
            data_testid="downgrade-timing",
        ),
        error_callout(S.timing_error),
        title="Plan changes",
        on_mount=S.load_timing,
    )


class PlanSwitchesState(ConsoleState):
    switch_options: list[dict[str, str]] = []
    switches_error: str = ""
    switches_key: int = 0

    def _plan_id(self) -> str:
        value = self.router.page.params.get("plan_id", "")
        return value if isinstance(value, str) else ""

    def _fill(self, merchant_id: int) -> None:
        self.switch_options = [
            {
                "id": str(o.plan_id),
                "name": o.name,
                "price": f"{o.price.format('en')} / "
                + (f"{o.interval_count} {o.interval}s" if o.interval_count > 1 else o.interval),
                "offered": "yes" if o.offered else "",
            }
            for o in switches_facade.switch_options(merchant_id=merchant_id, plan_id=self._plan_id())
        ]
        self.switches_key += 1

    @rx.event
    def load_switches(self):
        identity = self._authorize()
        if identity is None:
            return to_sign_in()
        self.switches_error = ""
        try:
            self._fill(identity.merchant_id)
        except BillingError as err:
            self.switch_options, self.switches_error = [], err.message

    @rx.event
    def save_switches(self, form_data: dict):
        identity = self._authorize()
        if identity is None:
            return to_sign_in()
        if not isinstance(form_data, dict):
            self.switches_error = "Invalid request."
            return
        # Checked boxes arrive as "switch-<plan id>": "on"; the facade checks every id is the merchant's.
        targets = [
            key.removeprefix("switch-") for key, value in form_data.items() if str(key).startswith("switch-") and value
        ]
        try:
            switches_facade.save_switch_targets(
                merchant_id=identity.merchant_id, user_id=identity.user_id, plan_id=self._plan_id(), target_ids=targets
            )
        except BillingError as err:
            self.switches_error = err.message
            return
        self.switches_error = ""
        self._fill(identity.merchant_id)
        return rx.toast.success("Plan switches saved.")


def _option(option) -> rx.Component:
    return rx.el.label(
        rx.flex(
            rx.checkbox(
                name="switch-" + option["id"],
                default_checked=option["offered"] != "",
                data_testid="switch-" + option["name"],
            ),
            rx.text(option["name"], weight="medium"),
            rx.text(option["price"], size="2", color_scheme="gray"),
            spacing="2",
            align="center",
            wrap="wrap",
        ),
        min_height=TAP,
        display="flex",
        align_items="center",
    )


def plan_switches_section() -> rx.Component:
    S = PlanSwitchesState
    return section(
        rx.text(
            "Subscribers of this plan may switch from their portal to the plans checked here (same currency).",
            size="2",
            color_scheme="gray",
        ),
        rx.cond(
            S.switch_options.length() > 0,
            rx.form(
                rx.vstack(
                    rx.foreach(S.switch_options, _option),
                    rx.button("Save plan switches", type="submit", size="3", min_height=TAP),
                    spacing="2",
                    width="100%",
                ),
                key=S.switches_key,
                on_submit=S.save_switches,
                reset_on_submit=False,
                width="100%",
            ),
            rx.text("No other active plan in this currency.", size="2", color_scheme="gray"),
        ),
        error_callout(S.switches_error),
        title="Plan switches",
        on_mount=S.load_switches,
        data_testid="plan-switches",
    )
