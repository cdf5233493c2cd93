"""/console/subscribers: search subscribers by name or email, filter by status, page through them
(keyset pages, as fast at 100k subscribers as at 10). The state also serves a plan's page (plan.py):
its subscribers and the registration of a new one."""

from __future__ import annotations

import reflex as rx

from portal_app import routes
from portal_app.billing.errors import BillingError
from portal_app.billing.facades import card_entry
from portal_app.billing.facades.console import plans as plans_facade
from portal_app.billing.facades.console import registration as registration_facade
from portal_app.billing.facades.console import subscribers as subscribers_facade
from portal_app.components.console_layout import TAP, console_status_badge, labelled, section
from portal_app.components.csv_export import export_link, invoice_export_form
from portal_app.components.layout import error_callout
from portal_app.pages.console.base import (
    POLICY_LABELS,
    STATUS_LABELS,
    ConsoleState,
    console_page,
    day,
    every,
    money,
    to_sign_in,
)

STATUS_CHOICES = [("all", "All statuses")] + [(s, STATUS_LABELS[s]) for s in subscribers_facade.STATUS_FILTERS]


class ConsoleSubscribersState(ConsoleState):
    current_plan_id: int = 0  # 0: every plan
    plan_title: str = ""
    plan_summary: str = ""
    plan_active: bool = True
    plan_signup_url: str = ""  # public (not a secret): the plan's hosted signup page
    plan_count: str = ""
    plan_mrr: str = ""
    query: str = ""
    status: str = "all"
    rows: list[dict[str, str]] = []
    page_number: int = 1
    has_next: bool = False
    search_error: str = ""
    # Start cursor of each page seen so far (index 0: the first page), kept server-side.
    _cursors: list = []

    register_open: bool = False
    register_error: str = ""
    registering: bool = False
    register_takes_card: bool = True  # simulated gateway: card fields (its tokenizer); Stripe: none

    @rx.var
    def export_csv_url(self) -> str:
        """The subscribers CSV with the list's filters as shown (the last search, this plan)."""
        return routes.console_subscribers_csv_url(
            query=self.query,
            status="" if self.status == "all" else self.status,
            plan_id=self.current_plan_id or "",
        )

    def _fetch(self, merchant_id: int) -> None:
        after = self._cursors[self.page_number - 1] if self.page_number - 1 < len(self._cursors) else None
        try:
            page = subscribers_facade.search_subscribers(
                merchant_id=merchant_id,
                plan_id=self.current_plan_id or None,
                query=self.query,
                status="" if self.status == "all" else self.status,
                after=after,
            )
        except BillingError as err:
            self.search_error = err.message
            self.rows = []
            self.has_next = False
            return
        self.search_error = ""
        self.rows = [
            {
                "id": str(r.subscriber_id),
                "name": r.name,
                "email": r.email,
                "plan": r.plan_name,
                "status": r.status,
                "status_label": r.status_label,
                "next": day(r.next_renewal_at),
                "url": routes.console_subscriber_url(r.subscriber_id),
            }
            for r in page.rows
        ]
        self.has_next = page.has_next
        if page.next_cursor is not None:
            self._cursors = self._cursors[: self.page_number] + [list(page.next_cursor)]

    def _reset_search(self) -> None:
        self.query, self.status, self.page_number, self._cursors = "", "all", 1, [None]
        self.register_open = False

    @rx.event
    def load_all(self):
        identity = self._load_console_header()
        if identity is None:
            return to_sign_in()
        self.current_plan_id, self.plan_title = 0, ""
        self._reset_search()
        self._fetch(identity.merchant_id)

    @rx.event
    def load_plan(self):
        identity = self._load_console_header()
        if identity is None:
            return to_sign_in()
        try:
            plan = plans_facade.get_plan(
                merchant_id=identity.merchant_id, plan_id=self.router.page.params.get("plan_id", "")
            )
        except BillingError:
            self.current_plan_id, self.plan_title = 0, ""
            return rx.redirect(routes.CONSOLE_PLANS, replace=True)
        self.current_plan_id = plan.plan_id
        self.plan_title = plan.name
        self.plan_summary = (
            f"{money(plan.price)} {every(plan.interval, plan.interval_count)} · cancellation: "
            f"{POLICY_LABELS.get(plan.cancellation_policy, '')}"
        )
        self.plan_active = plan.active
        self.plan_signup_url = plan.signup_url
        self.plan_count = str(plan.subscriber_count)
        self.plan_mrr = money(plan.mrr)
        self._reset_search()
        self._fetch(identity.merchant_id)

    @rx.event
    def copy_signup_url(self):
        """Copy the plan's signup URL (re-read through the facade for this merchant's plan)."""
        identity = self._authorize()
        if identity is None:
            return to_sign_in()
        try:
            plan = plans_facade.get_plan(merchant_id=identity.merchant_id, plan_id=self.current_plan_id)
        except BillingError:
            return rx.toast.error("This plan is no longer available.")
        self.plan_signup_url = plan.signup_url
        return [rx.set_clipboard(plan.signup_url), rx.toast.success("Signup link copied.")]

    @rx.event
    def search(self, form_data: dict):
        identity = self._authorize()
        if identity is None:
            return to_sign_in()
        query = form_data.get("query", "") if isinstance(form_data, dict) else ""
        status = form_data.get("status", "all") if isinstance(form_data, dict) else "all"
        if not isinstance(query, str) or len(query) > subscribers_facade.MAX_QUERY_LENGTH:
            self.search_error = f"Search for at most {subscribers_facade.MAX_QUERY_LENGTH} characters."
            return
        if status not in dict(STATUS_CHOICES):
            self.search_error = "Unknown status filter."
            return
        self.query, self.status, self.page_number, self._cursors = query.strip(), status, 1, [None]
        self._fetch(identity.merchant_id)

    @rx.event
    def next_page(self):
        identity = self._authorize()
        if identity is None:
            return to_sign_in()
        if self.has_next and self.page_number < len(self._cursors):
            self.page_number += 1
            self._fetch(identity.merchant_id)

    @rx.event
    def previous_page(self):
        identity = self._authorize()
        if identity is None:
            return to_sign_in()
        if self.page_number > 1:
            self.page_number -= 1
            self._fetch(identity.merchant_id)

    @rx.event
    def set_register_open(self, value: bool):
        self.register_open = value is True and self._authorize() is not None and self.current_plan_id > 0
        self.register_error = ""
        if self.register_open:
            self.register_takes_card = registration_facade.console_takes_cards()

    @rx.event
    def register_card_refused(self, error: dict):
        """The tokenizer refused the card in the browser (its code and param reach us, never the card)."""
        if self._authorize() is None:
            return
        self.register_error = card_entry.card_refusal(error, "en")[1]

    @rx.event
    def register(self, form_data: dict):
        """Register a subscriber to this plan. The form carries the card component's pm_ id (simulated
        gateway) or no card at all (Stripe); card data in it is refused by the facade."""
        identity = self._authorize()
        if identity is None:
            yield to_sign_in()
            return
        self.register_error = ""
        self.registering = True
        yield
        try:
            result = registration_facade.register_subscriber(
                merchant_id=identity.merchant_id, user_id=identity.user_id, plan_id=self.current_plan_id, form=form_data
            )
        except BillingError as err:
            self.register_error = err.message
            return
        finally:
            self.registering = False
        if result.outcome is registration_facade.RegistrationOutcome.CARD_REFUSED:
            # Recorded as an incomplete subscription; the form stays open for another card.
            self.register_error = result.message
            self._fetch(identity.merchant_id)
            return
        self.register_open = False
        toast = rx.toast.success if result.active else rx.toast.warning
        yield toast(result.message + (" Invitation email sent." if result.invitation_sent else ""))
        yield rx.redirect(routes.console_subscriber_url(result.subscriber_id))


def _row(row) -> rx.Component:
    """One subscriber: name and status on the first line, email and plan (with the renewal) under it;
    on a phone each pair wraps, still two to three short lines."""
    return rx.el.li(
        rx.flex(
            rx.link(
                row["name"],
                href=row["url"],
                weight="bold",
                min_height=TAP,
                display="inline-flex",
                align_items="center",
                data_testid="subscriber-link",
            ),
            console_status_badge(row["status"], row["status_label"]),
            justify="between",
            align="center",
            wrap="wrap",
            column_gap="12px",
            width="100%",
        ),
        rx.flex(
            rx.text(row["email"], size="2", color_scheme="gray", word_break="break-all"),
            rx.text(
                row["plan"],
                rx.cond(row["next"] != "", " · renews " + row["next"], ""),
                size="2",
                color_scheme="gray",
            ),
            justify="between",
            wrap="wrap",
            column_gap="12px",
            width="100%",
        ),
        padding="4px 0 10px",
        border_bottom="1px solid var(--gray-4)",
        list_style="none",
        data_testid="subscriber-row",
    )


def _search_form() -> rx.Component:
    S = ConsoleSubscribersState
    return rx.form(
        rx.flex(
            rx.box(
                labelled(
                    "Name or email",
                    "subscriber-query",
                    rx.input(
                        id="subscriber-query",
                        name="query",
                        default_value=S.query,
                        type="search",
                        max_length=subscribers_facade.MAX_QUERY_LENGTH,
                        size="3",
                        width="100%",
                    ),
                ),
                flex="3 1 220px",
            ),
            rx.box(
                labelled(
                    "Status",
                    "subscriber-status",
                    rx.select.root(
                        rx.select.trigger(id="subscriber-status", width="100%", min_height=TAP),
                        rx.select.content(*[rx.select.item(label, value=value) for value, label in STATUS_CHOICES]),
                        name="status",
                        default_value=S.status,
                        size="3",
                    ),
                ),
                flex="1 1 160px",
            ),
            rx.button(
                rx.icon("search", size=16, aria_hidden="true"), "Search", type="submit", size="3", min_height=TAP
            ),
            spacing="3",
            align="end",
            wrap="wrap",
            width="100%",
        ),
        on_submit=S.search,
        reset_on_submit=False,
        width="100%",
        role="search",
    )


def subscriber_list() -> rx.Component:
    S = ConsoleSubscribersState
    return section(
        _search_form(),
        error_callout(S.search_error),
        rx.cond(
            S.rows.length() > 0,
            rx.el.ul(rx.foreach(S.rows, _row), padding="0", margin="0", width="100%"),
            rx.text("No subscribers match.", color_scheme="gray", data_testid="no-subscribers"),
        ),
        rx.flex(
            rx.button(
                "Previous",
                size="3",
                variant="soft",
                min_height=TAP,
                disabled=S.page_number <= 1,
                on_click=S.previous_page,
            ),
            rx.text("Page ", S.page_number.to_string(), size="2", data_testid="page-number"),
            rx.button("Next", size="3", variant="soft", min_height=TAP, disabled=~S.has_next, on_click=S.next_page),
            rx.spacer(),
            export_link(S.export_csv_url, "Export CSV", "export-subscribers"),
            spacing="3",
            align="center",
            wrap="wrap",
            width="100%",
        ),
    )


def invoice_export() -> rx.Component:
    """Invoices CSV (on a plan's page: that plan's invoices)."""
    return section(invoice_export_form(ConsoleSubscribersState.current_plan_id), title="Export invoices")


def subscribers_page() -> rx.Component:
    return console_page(
        rx.heading("Subscribers", size="6", as_="h1"),
        subscriber_list(),
        invoice_export(),
        current=routes.CONSOLE_SUBSCRIBERS,
    )
