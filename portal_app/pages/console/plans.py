"""/console/plans: recurring plans with subscriber counts and MRR; create and edit in a dialog."""

from __future__ import annotations

import reflex as rx

from portal_app import routes
from portal_app.billing.errors import BillingError
from portal_app.billing.facades.console import plans as plans_facade
from portal_app.components.console_layout import TAP, labelled, section
from portal_app.components.layout import error_callout
from portal_app.pages.console.base import POLICY_LABELS, ConsoleState, console_page, every, money, to_sign_in

INTERVALS = ["month", "year", "week", "day"]


def plan_view(row: plans_facade.PlanRow) -> dict[str, str]:
    return {
        "id": str(row.plan_id),
        "name": row.name,
        "price": money(row.price),
        "every": every(row.interval, row.interval_count),
        "policy": POLICY_LABELS.get(row.cancellation_policy, row.cancellation_policy),
        "active": "yes" if row.active else "",
        "subscribers": str(row.subscriber_count),
        "mrr": money(row.mrr),
        "url": routes.console_plan_url(row.plan_id),
        # Edit form defaults (strings, as the form sends them back).
        "f_price": str(row.price.to_decimal()),
        "f_currency": row.price.currency,
        "f_interval": row.interval,
        "f_count": str(row.interval_count),
        "f_policy": row.cancellation_policy,
    }


class ConsolePlansState(ConsoleState):
    plans: list[dict[str, str]] = []
    dialog_open: bool = False
    editing_id: int = 0  # 0: a new plan
    form: dict[str, str] = {}
    form_error: str = ""
    form_key: int = 0

    def _reload(self, merchant_id: int) -> None:
        self.plans = [plan_view(row) for row in plans_facade.list_plans(merchant_id=merchant_id)]

    @rx.event
    def load(self):
        identity = self._load_console_header()
        if identity is None:
            return to_sign_in()
        self._reload(identity.merchant_id)

    @rx.event
    def open_new(self):
        if self._authorize() is None:
            return to_sign_in()
        self.editing_id = 0
        self.form = {
            "name": "",
            "price": "",
            "currency": "USD",
            "interval": "month",
            "count": "1",
            "policy": "at_period_end",
            "active": "yes",
        }
        self.form_error = ""
        self.form_key += 1
        self.dialog_open = True

    @rx.event
    def open_edit(self, plan_id: str):
        identity = self._authorize()
        if identity is None:
            return to_sign_in()
        try:
            row = plans_facade.get_plan(merchant_id=identity.merchant_id, plan_id=plan_id)
        except BillingError as err:
            return rx.toast.error(err.message)
        view = plan_view(row)
        self.editing_id = row.plan_id
        self.form = {
            "name": view["name"],
            "price": view["f_price"],
            "currency": view["f_currency"],
            "interval": view["f_interval"],
            "count": view["f_count"],
            "policy": view["f_policy"],
            "active": view["active"],
        }
        self.form_error = ""
        self.form_key += 1
        self.dialog_open = True

    @rx.event
    def set_dialog_open(self, value: bool):
        self.dialog_open = value is True and self._authorize() is not None

    @rx.event
    def save(self, form_data: dict):
        identity = self._authorize()
        if identity is None:
            return to_sign_in()
        try:
            plans_facade.save_plan(
                merchant_id=identity.merchant_id,
                user_id=identity.user_id,
                form=form_data,
                plan_id=self.editing_id or None,
            )
        except BillingError as err:
            self.form_error = err.message
            return
        created = not self.editing_id
        self.dialog_open = False
        self.form_error = ""
        self._reload(identity.merchant_id)
        return rx.toast.success("Plan created." if created else "Plan saved.")


def _plan_row(plan) -> rx.Component:
    return rx.el.li(
        rx.flex(
            rx.vstack(
                rx.link(
                    plan["name"],
                    href=plan["url"],
                    weight="bold",
                    size="3",
                    min_height=TAP,
                    display="inline-flex",
                    align_items="center",
                    data_testid="plan-link",
                ),
                rx.text(
                    plan["price"], " ", plan["every"], " · cancel: ", plan["policy"], size="2", color_scheme="gray"
                ),
                spacing="0",
                flex="1 1 240px",
            ),
            rx.flex(
                rx.cond(plan["active"] == "", rx.badge("Archived", color_scheme="gray", size="2")),
                rx.vstack(
                    rx.text("Subscribers", size="1", color_scheme="gray"),
                    rx.text(plan["subscribers"], weight="bold", data_testid="plan-subscribers"),
                    spacing="0",
                ),
                rx.vstack(
                    rx.text("MRR", size="1", color_scheme="gray"),
                    rx.text(plan["mrr"], weight="bold", data_testid="plan-mrr"),
                    spacing="0",
                ),
                rx.button(
                    "Edit",
                    size="3",
                    variant="soft",
                    min_height=TAP,
                    aria_label="Edit " + plan["name"],
                    on_click=ConsolePlansState.open_edit(plan["id"]),
                ),
                spacing="4",
                align="center",
                wrap="wrap",
            ),
            justify="between",
            align="center",
            wrap="wrap",
            spacing="3",
            width="100%",
        ),
        padding="12px 0",
        border_bottom="1px solid var(--gray-4)",
        list_style="none",
        data_testid="plan-row",
    )


def _form_fields() -> rx.Component:
    f = ConsolePlansState.form
    return rx.vstack(
        labelled(
            "Plan name",
            "plan-name",
            rx.input(
                id="plan-name",
                name="name",
                default_value=f["name"],
                max_length=120,
                required=True,
                size="3",
                width="100%",
            ),
        ),
        rx.flex(
            rx.box(
                labelled(
                    "Price",
                    "plan-price",
                    rx.input(
                        id="plan-price",
                        name="price",
                        default_value=f["price"],
                        input_mode="decimal",
                        placeholder="29.00",
                        max_length=20,
                        required=True,
                        size="3",
                        width="100%",
                    ),
                ),
                flex="2 1 140px",
            ),
            rx.box(
                labelled(
                    "Currency",
                    "plan-currency",
                    rx.input(
                        id="plan-currency",
                        name="currency",
                        default_value=f["currency"],
                        max_length=3,
                        required=True,
                        size="3",
                        width="100%",
                    ),
                ),
                flex="1 1 90px",
            ),
            spacing="3",
            width="100%",
            wrap="wrap",
        ),
        rx.flex(
            rx.box(
                labelled(
                    "Bill every",
                    "plan-count",
                    rx.input(
                        id="plan-count",
                        name="interval_count",
                        default_value=f["count"],
                        input_mode="numeric",
                        max_length=4,
                        size="3",
                        width="100%",
                    ),
                ),
                flex="1 1 90px",
            ),
            rx.box(
                labelled(
                    "Interval",
                    "plan-interval",
                    rx.select(
                        INTERVALS,
                        name="interval",
                        default_value=f["interval"],
                        size="3",
                        width="100%",
                        id="plan-interval",
                    ),
                ),
                flex="2 1 140px",
            ),
            spacing="3",
            width="100%",
            wrap="wrap",
        ),
        rx.el.fieldset(
            rx.el.legend("Cancellation by the subscriber", font_weight="500", font_size="14px", margin_bottom="4px"),
            rx.radio_group.root(
                rx.vstack(
                    *[
                        rx.el.label(
                            rx.flex(
                                rx.radio_group.item(value=value, aria_label=label),
                                rx.text(label),
                                spacing="2",
                                align="center",
                                min_height=TAP,
                            )
                        )
                        for value, label in POLICY_LABELS.items()
                    ],
                    spacing="0",
                ),
                name="cancellation_policy",
                default_value=f["policy"],
            ),
            border="none",
            padding="0",
            margin="0",
        ),
        rx.el.label(
            rx.flex(
                rx.switch(
                    name="active",
                    default_checked=f["active"] != "",
                    size="3",
                    aria_label="Active (offered to new subscribers)",
                ),
                rx.text("Active (offered to new subscribers)"),
                spacing="2",
                align="center",
                min_height=TAP,
            ),
        ),
        # Tells the facade the switch was rendered (an unchecked switch sends nothing).
        rx.el.input(type="hidden", name="active_present", value="1"),
        spacing="3",
        width="100%",
        key=ConsolePlansState.form_key.to_string(),
    )


def plan_dialog() -> rx.Component:
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title(rx.cond(ConsolePlansState.editing_id == 0, "New plan", "Edit plan")),
            rx.dialog.description("Price changes apply from each subscriber's next renewal.", size="2"),
            rx.form(
                rx.vstack(
                    _form_fields(),
                    error_callout(ConsolePlansState.form_error),
                    rx.flex(
                        rx.button("Save plan", type="submit", size="3", min_height=TAP),
                        rx.dialog.close(
                            rx.button(
                                "Cancel", type="button", variant="soft", color_scheme="gray", size="3", min_height=TAP
                            )
                        ),
                        spacing="3",
                        wrap="wrap",
                    ),
                    spacing="3",
                    width="100%",
                    margin_top="12px",
                ),
                on_submit=ConsolePlansState.save,
                reset_on_submit=False,
            ),
            max_width="520px",
        ),
        open=ConsolePlansState.dialog_open,
        on_open_change=ConsolePlansState.set_dialog_open,
    )


def plans_page() -> rx.Component:
    return console_page(
        rx.flex(
            rx.heading("Recurring Plans", size="6", as_="h1"),
            rx.button(
                rx.icon("plus", size=16, aria_hidden="true"),
                "New plan",
                size="3",
                min_height=TAP,
                on_click=ConsolePlansState.open_new,
            ),
            justify="between",
            align="center",
            wrap="wrap",
            spacing="3",
            width="100%",
        ),
        section(
            rx.cond(
                ConsolePlansState.plans.length() > 0,
                rx.el.ul(rx.foreach(ConsolePlansState.plans, _plan_row), padding="0", margin="0", width="100%"),
                rx.text("No plans yet. Create your first plan.", color_scheme="gray"),
            ),
        ),
        plan_dialog(),
        current=routes.CONSOLE_PLANS,
    )
