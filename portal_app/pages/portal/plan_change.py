"""Portal section: change plan. A dialog lists the plans the merchant lets this plan switch to; choosing
one shows the preview ("You pay $12.85 today" or "$6.43 credit", the proration lines, the next renewal
date and amount), then Confirm. A downgrade scheduled for the period end shows "Changes to X on
<date>" with an undo. Every handler re-checks the portal session; the plan id is validated by the
facade against the merchant's list for this subscriber's plan."""

from __future__ import annotations

import reflex as rx

from portal_app import i18n
from portal_app.billing.errors import BillingError
from portal_app.billing.facades import portal as portal_facade
from portal_app.billing.facades import portal_plan_change as facade
from portal_app.components.layout import dismiss_button
from portal_app.i18n.plan_change_text import plan_change_t, plan_change_text, price_words, refusal_words
from portal_app.pages.portal import step_up, toasts
from portal_app.pages.portal.overview import PortalState

TAP = "44px"


# Refusals the page does not word beside the plan: money owed (the payment alert leads, with its one
# action) and a subscription that is not active yet or now (incomplete, trialing, paused: the status
# says so). The others (set to end, renewal in progress) tell the subscriber what to do.
QUIET_REFUSALS = frozenset({"payment_due", "not_active"})


class PortalPlanChangeState(PortalState):
    pc: dict[str, str] = plan_change_text("en")
    pc_available: bool = False
    pc_intro: str = ""
    pc_options: list[dict[str, str]] = []
    pc_refusal: str = ""
    pc_pending: str = ""
    pc_open: bool = False
    pc_step: str = "choose"  # choose | preview
    pc_selected: str = ""
    pc_error: str = ""
    pv_kind: str = ""  # charge | credit | none | scheduled
    pv_headline: str = ""
    pv_note: str = ""
    pv_lines: list[dict[str, str]] = []
    pv_next: str = ""

    def _fill_plan_change(self, merchant_id: int, subscriber_id: int) -> None:
        lang = self.lang
        self.pc = plan_change_text(lang)
        options = facade.plan_change_options(merchant_id=merchant_id, subscriber_id=subscriber_id)
        self.pc_available = options is not None and bool(options.options)
        if options is None:
            self.pc_intro = self.pc_refusal = self.pc_pending = ""
            self.pc_options = []
            return
        self.pc_intro = plan_change_t(lang, "change_intro", plan=options.current_plan)
        self.pc_options = [
            {
                "id": str(o.plan_id),
                "name": o.name,
                "price": price_words(i18n.fmt_money(o.price, lang), o.interval, o.interval_count, lang),
            }
            for o in options.options
        ]
        self.pc_refusal = refusal_words(options.refusal, lang) if options.refusal else ""
        if options.refusal in QUIET_REFUSALS:
            self.pc_available, self.pc_refusal = False, ""
        self.pc_pending = (
            plan_change_t(lang, "pending_line", plan=options.pending_plan, date=i18n.fmt_date(options.pending_at, lang))
            if options.pending_plan
            else ""
        )

    def _error_words(self, err: BillingError) -> str:
        code = facade.refusal_code(err)
        return refusal_words(code, self.lang) if code else portal_facade.error_text(err, self.lang)

    @rx.event
    def load_plan_change(self):
        identity = self._portal_identity()
        if identity is None:
            return self._to_invalid()
        try:
            self._fill_plan_change(*identity)
        except BillingError:
            self.pc_available = False

    @rx.event
    def set_pc_open(self, value: bool):
        identity = self._portal_identity()
        if identity is None:
            return self._to_invalid()
        if value is True:
            self._fill_plan_change(*identity)
        self.pc_open = value is True and self.pc_available
        self.pc_step, self.pc_selected, self.pc_error = "choose", "", ""

    @rx.event
    def back_to_plans(self):
        if self._portal_identity() is None:
            return self._to_invalid()
        self.pc_step, self.pc_error = "choose", ""

    @rx.event
    def review_change(self, form_data: dict):
        identity = self._portal_identity()
        if identity is None:
            return self._to_invalid()
        plan_id = form_data.get("plan", "") if isinstance(form_data, dict) else ""
        if not isinstance(plan_id, str) or plan_id not in {o["id"] for o in self.pc_options}:
            self.pc_error = refusal_words("not_offered", self.lang)
            return
        try:
            preview = facade.preview(merchant_id=identity[0], subscriber_id=identity[1], plan_id=plan_id)
        except BillingError as err:
            self.pc_error = self._error_words(err)
            return
        self._show_preview(preview)
        self.pc_selected, self.pc_step, self.pc_error = plan_id, "preview", ""

    def _show_preview(self, preview) -> None:
        lang = self.lang
        money = lambda m: i18n.fmt_money(m, lang)  # noqa: E731
        if preview.timing == "period_end":
            self.pv_kind = "scheduled"
            self.pv_headline = plan_change_t(lang, "nothing_today")
            self.pv_note = plan_change_t(
                lang,
                "scheduled_note",
                plan=preview.to_plan_name,
                date=i18n.fmt_date(preview.effective_at, lang),
                current=preview.from_plan_name,
            )
        elif preview.amount_due_today.amount_minor > 0:
            self.pv_kind = "charge"
            self.pv_headline = plan_change_t(lang, "pay_today", amount=money(preview.amount_due_today))
            self.pv_note = plan_change_t(lang, "charge_note")
        elif preview.credit_added.amount_minor > 0:
            self.pv_kind = "credit"
            self.pv_headline = plan_change_t(lang, "credit_today", amount=money(preview.credit_added))
            self.pv_note = plan_change_t(lang, "credit_note")
        else:
            self.pv_kind, self.pv_headline, self.pv_note = "none", plan_change_t(lang, "nothing_today"), ""
        self.pv_lines = [
            {"description": self._line_words(line, preview), "amount": money(preview.line_amount(line))}
            for line in preview.lines
        ]
        self.pv_next = plan_change_t(
            lang,
            "next_renewal",
            date=i18n.fmt_date(preview.next_renewal_at, lang),
            amount=money(preview.next_renewal_amount),
        )

    def _line_words(self, line, preview) -> str:
        lang = self.lang
        if line.kind == "unused":
            return plan_change_t(lang, "line_unused", plan=line.plan_name)
        if line.kind == "remaining":
            return plan_change_t(lang, "line_remaining", plan=line.plan_name)
        period = f"{i18n.fmt_date(preview.period_start, lang)} – {i18n.fmt_date(preview.period_end, lang)}"
        return f"{line.plan_name} ({period})"

    @rx.event
    def confirm_change(self):
        identity = self._portal_identity()
        if identity is None:
            return self._to_invalid()
        if self.pc_step != "preview" or not self.pc_selected:
            return None
        try:
            outcome = facade.confirm(**step_up.change_ids(self, identity), plan_id=self.pc_selected)
        except BillingError as err:
            if ask := step_up.ask_again(err, "plan"):  # the emailed code first, then this same change
                return ask
            self.pc_error = self._error_words(err)
            return None
        preview = outcome.result.preview
        self.pc_open, self.pc_step, self.pc_selected = False, "choose", ""
        self._refresh(*identity)
        self._fill_plan_change(*identity)
        if preview.timing == "period_end":
            date = i18n.fmt_date(preview.effective_at, self.lang)
            return toasts.ok(plan_change_t(self.lang, "toast_scheduled", plan=preview.to_plan_name, date=date))
        if outcome.charge is not None and not outcome.charge.paid:
            amount = i18n.fmt_money(preview.amount_due_today, self.lang)
            return toasts.fail(
                plan_change_t(self.lang, "toast_charge_failed", plan=preview.to_plan_name, amount=amount)
            )
        return toasts.ok(plan_change_t(self.lang, "toast_changed", plan=preview.to_plan_name))

    @rx.event
    def undo_change(self):
        identity = self._portal_identity()
        if identity is None:
            return self._to_invalid()
        try:
            facade.undo(**step_up.change_ids(self, identity))
        except BillingError as err:
            return step_up.ask_again(err, "plan_undo") or toasts.fail(self._error_words(err))
        self._refresh(*identity)
        self._fill_plan_change(*identity)
        return toasts.ok(plan_change_t(self.lang, "toast_change_undone"))


# After the emailed code (merchant setting), the change that asked for it goes on.
step_up.on_verified("plan", lambda: PortalPlanChangeState.confirm_change)
step_up.on_verified("plan_undo", lambda: PortalPlanChangeState.undo_change)

S = PortalPlanChangeState


def _option(option) -> rx.Component:
    return rx.el.label(
        rx.flex(
            rx.radio_group.item(value=option["id"], data_testid="pc-option-" + option["id"]),
            rx.vstack(
                rx.text(option["name"], weight="medium"),
                rx.text(option["price"], size="2", color_scheme="gray"),
                spacing="0",
            ),
            spacing="3",
            align="center",
            min_height=TAP,
        ),
        width="100%",
    )


def _choose_step() -> rx.Component:
    return rx.form(
        rx.vstack(
            rx.el.fieldset(
                rx.el.legend(S.pc["choose_plan"], font_weight="500", margin_bottom="8px"),
                rx.radio_group.root(
                    rx.vstack(rx.foreach(S.pc_options, _option), spacing="1", width="100%"),
                    name="plan",
                    required=True,
                ),
                border="none",
                padding="0",
                margin="0",
                width="100%",
            ),
            rx.flex(
                rx.button(S.pc["review_change"], type="submit", size="3", min_height=TAP, data_testid="pc-review"),
                dismiss_button(S.pc["keep_plan"]),
                spacing="3",
                wrap="wrap",
            ),
            spacing="3",
            width="100%",
        ),
        on_submit=S.review_change,
        reset_on_submit=False,
        width="100%",
    )


def _line(line) -> rx.Component:
    return rx.flex(
        rx.text(line["description"], size="2", flex="1 1 180px"),
        rx.text(line["amount"], size="2", weight="medium", white_space="nowrap"),
        justify="between",
        spacing="3",
        wrap="wrap",
        width="100%",
    )


def _preview_step() -> rx.Component:
    return rx.vstack(
        rx.heading(S.pv_headline, size="5", as_="p", data_testid="pc-headline", data_kind=S.pv_kind),
        rx.cond(S.pv_note != "", rx.text(S.pv_note, size="2", color_scheme="gray")),
        rx.cond(
            S.pv_lines.length() > 0,
            rx.vstack(rx.foreach(S.pv_lines, _line), spacing="1", width="100%", data_testid="pc-lines"),
        ),
        rx.text(S.pv_next, weight="medium", data_testid="pc-next"),
        rx.flex(
            rx.button(
                S.pc["confirm_change"],
                size="3",
                min_height=TAP,
                on_click=S.confirm_change,
                data_testid="pc-confirm",
            ),
            rx.button(
                S.pc["back"],
                type="button",
                variant="soft",
                color_scheme="gray",
                size="3",
                min_height=TAP,
                on_click=S.back_to_plans,
            ),
            spacing="3",
            wrap="wrap",
        ),
        spacing="3",
        width="100%",
    )


def plan_change_dialog() -> rx.Component:
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title(S.pc["change_title"]),
            rx.dialog.description(S.pc_intro, size="2"),
            rx.box(
                rx.cond(S.pc_step == "preview", _preview_step(), _choose_step()),
                rx.cond(
                    S.pc_error != "",
                    rx.callout(S.pc_error, color_scheme="red", role="alert", width="100%", margin_top="12px"),
                ),
                margin_top="12px",
                width="100%",
            ),
            max_width="520px",
        ),
        open=S.pc_open,
        on_open_change=S.set_pc_open,
    )


def plan_change_section() -> rx.Component:
    """The "Change plan" button (when the merchant offers other plans), its dialog, and a scheduled
    downgrade's "Changes to X on <date>" with its undo. Loads itself when mounted."""
    return rx.flex(
        rx.cond(
            S.pc_pending != "",
            rx.flex(
                rx.text(S.pc_pending, data_testid="pc-pending"),
                rx.button(
                    S.pc["undo_change"],
                    size="3",
                    min_height=TAP,
                    variant="soft",
                    on_click=S.undo_change,
                    data_testid="pc-undo",
                ),
                spacing="3",
                align="center",
                wrap="wrap",
            ),
        ),
        rx.cond(
            S.pc_available,
            rx.cond(
                S.pc_refusal != "",
                rx.text(S.pc_refusal, size="2", color_scheme="gray", data_testid="pc-refusal"),
                rx.fragment(
                    rx.button(
                        S.pc["change_plan"],
                        size="3",
                        min_height=TAP,
                        variant="outline",
                        on_click=S.set_pc_open(True),
                        data_testid="change-plan-button",
                    ),
                    plan_change_dialog(),
                ),
            ),
        ),
        spacing="3",
        wrap="wrap",
        align="center",
        on_mount=S.load_plan_change,
        width="100%",
    )
