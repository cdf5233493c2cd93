"""/console/plans/<id>: the "Retention offer" section: what a subscriber of this plan is offered
before their cancellation is confirmed (none, a percentage or an amount off the next 1-24 invoices)."""

from __future__ import annotations

import reflex as rx

from portal_app.billing.errors import BillingError
from portal_app.billing.facades.console import plan_retention as retention_facade
from portal_app.components.console_layout import TAP, labelled, section
from portal_app.components.layout import error_callout
from portal_app.pages.console.subscribers import ConsoleSubscribersState

KIND_LABELS = {"none": "No offer", "percent": "Percentage off", "amount": "Amount off"}


class ConsolePlanRetentionState(ConsoleSubscribersState):
    retention_kind: str = "none"  # the select's value ("none" stands for "": Radix needs a non-empty one)
    retention_value: str = ""
    retention_cycles: str = ""
    retention_currency: str = ""
    retention_error: str = ""
    retention_notice: str = ""

    def _fill(self, offer: retention_facade.RetentionForm) -> None:
        self.retention_kind = offer.kind or "none"
        self.retention_value, self.retention_cycles = offer.value, offer.cycles
        self.retention_currency = offer.currency

    def _plan_id(self):
        """The page's plan (the facade checks it is this merchant's): the address's id, as load_plan reads it."""
        return self.router.page.params.get("plan_id", "") or self.current_plan_id

    @rx.event
    def load_retention(self):
        identity = self._authorize()
        if identity is None:
            return
        try:
            self._fill(retention_facade.retention_form(merchant_id=identity.merchant_id, plan_id=self._plan_id()))
        except BillingError as err:
            self.retention_error = err.message

    @rx.event
    def set_retention_kind(self, value: str):
        if self._authorize() is None:
            return
        self.retention_kind = value if value in KIND_LABELS else "none"
        self.retention_notice = ""

    @rx.event
    def save_retention(self, form_data: dict):
        identity = self._authorize()
        if identity is None or not isinstance(form_data, dict):
            return
        kind = self.retention_kind if self.retention_kind in ("percent", "amount") else ""
        try:
            offer = retention_facade.save_retention_offer(
                merchant_id=identity.merchant_id,
                user_id=identity.user_id,
                plan_id=self._plan_id(),
                form={**form_data, "retention_kind": kind},
            )
        except BillingError as err:
            self.retention_error, self.retention_notice = err.message, ""
            return
        self._fill(offer)
        self.retention_error, self.retention_notice = "", "Retention offer saved."


def plan_retention_section() -> rx.Component:
    S = ConsolePlanRetentionState
    return section(
        rx.text(
            "Shown once to a subscriber who starts to cancel; accepted, it takes the discount off their next "
            "invoices and the subscription continues.",
            size="2",
            color_scheme="gray",
        ),
        rx.form(
            rx.vstack(
                labelled(
                    "Offer",
                    "retention-kind",
                    rx.select.root(
                        rx.select.trigger(id="retention-kind", min_height=TAP, width="100%"),
                        rx.select.content(*[rx.select.item(label, value=k) for k, label in KIND_LABELS.items()]),
                        value=S.retention_kind,
                        on_change=S.set_retention_kind,
                        size="3",
                    ),
                ),
                rx.cond(
                    S.retention_kind != "none",
                    rx.flex(
                        rx.box(
                            labelled(
                                rx.cond(S.retention_kind == "percent", "Percent off (1-100)", "Amount off"),
                                "retention-value",
                                rx.input(
                                    id="retention-value",
                                    name="retention_value",
                                    default_value=S.retention_value,
                                    key=S.retention_value,
                                    input_mode="decimal",
                                    max_length=20,
                                    size="3",
                                    width="100%",
                                ),
                                hint="A percentage: a whole number. An amount: in the plan's currency, e.g. 5.50.",
                            ),
                            flex="1 1 160px",
                        ),
                        rx.box(
                            labelled(
                                "For how many invoices (1-24)",
                                "retention-cycles",
                                rx.input(
                                    id="retention-cycles",
                                    name="retention_cycles",
                                    default_value=S.retention_cycles,
                                    key=S.retention_cycles,
                                    input_mode="numeric",
                                    max_length=2,
                                    size="3",
                                    width="100%",
                                ),
                            ),
                            flex="1 1 160px",
                        ),
                        spacing="3",
                        wrap="wrap",
                        width="100%",
                    ),
                ),
                error_callout(S.retention_error),
                rx.cond(
                    S.retention_notice != "",
                    rx.callout(S.retention_notice, icon="circle_check", color_scheme="green", role="status"),
                ),
                rx.button("Save offer", type="submit", size="3", min_height=TAP, data_testid="retention-save"),
                spacing="3",
                width="100%",
            ),
            on_submit=S.save_retention,
            reset_on_submit=False,
            width="100%",
        ),
        title="Retention offer",
        on_mount=S.load_retention,
        data_testid="retention-section",
    )
