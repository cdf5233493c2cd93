"""/console/subscribers/<id>: one subscriber's profile: status, plan, next renewal, card, invoices
(download), payments to review (mark paid, retry, void), the portal link (copy, regenerate, send again),
delete, and the timeline."""

from __future__ import annotations

import reflex as rx

from portal_app import routes
from portal_app.billing.errors import BillingError
from portal_app.billing.facades.console import forms as forms_facade
from portal_app.billing.facades.console import profile as profile_facade
from portal_app.components.badges import status_badge
from portal_app.components.console_layout import TAP, section
from portal_app.components.csv_export import subscriber_invoices_export
from portal_app.components.portal_link import copy_link, link_field, show_link
from portal_app.components.profile_parts import confirm_dialog, fact, invoice_row, timeline_row
from portal_app.components.profile_reviews import review_section
from portal_app.pages.console.base import STATUS_LABELS, ConsoleState, console_page, day, money, to_sign_in

# Each resolution of a payment in review, and what the toast says once it is done.
_RESOLUTIONS = {
    "paid": "Invoice {number} marked paid.",
    "retry": "Invoice {number} will be charged again on the next billing run.",
    "void": "Invoice {number} voided.",
}


class ConsoleProfileState(ConsoleState):
    profile_id: int = 0
    found: bool = False
    name: str = ""
    email: str = ""
    language: str = ""
    since: str = ""
    has_subscription: bool = False
    deleted: bool = False
    plan_name: str = ""
    plan_url: str = ""
    status: str = ""
    status_label: str = ""
    next_renewal: str = ""
    next_amount: str = ""
    amount_due: str = ""
    cancel_note: str = ""
    card: str = ""
    card_expired: bool = False
    # The link itself is never a var: the browser fetches it on demand (components/portal_link.py).
    has_link: bool = False
    link_api_url: str = ""  # the authorized route that answers the link
    link_version: int = 0  # bumped when the link changes: the shown link is emptied
    last_visit: str = ""
    invoices: list[dict[str, str]] = []
    timeline: list[dict[str, str]] = []
    reviews: list[dict[str, str]] = []  # payments in review: the merchant resolves them
    review_attempt: str = ""  # the attempt the open review dialog is about
    confirm: str = ""  # "" | "regenerate" | "delete" | "review_paid" | "review_retry" | "review_void"

    def _refresh(self, merchant_id: int) -> None:
        p = profile_facade.subscriber_profile(merchant_id=merchant_id, subscriber_id=self.profile_id)
        self.found = True
        self.name, self.email, self.language = p.name, p.email, p.language
        self.since = day(p.created_at)
        sub = p.subscription
        self.has_subscription = sub is not None
        self.deleted = p.deleted
        self.plan_name = sub.plan_name if sub else ""
        self.plan_url = routes.console_plan_url(sub.plan_id) if sub else ""
        status = sub.display_status if sub else ""
        self.status = status
        self.status_label = (
            ("Cancels " + day(sub.access_ends_at)) if sub and sub.on_grace_period else STATUS_LABELS.get(status, status)
        )
        self.next_renewal = day(sub.next_renewal_at) if sub else ""
        self.next_amount = money(sub.next_amount) if sub else ""
        self.amount_due = money(sub.amount_due) if sub and sub.amount_due else ""
        self.cancel_note = f"Canceled: {sub.cancellation_reason}" if sub and sub.cancellation_reason else ""
        self.card = (
            (
                f"{p.card.brand.title()} ending in {p.card.last4} · expires "
                f"{p.card.exp_month:02d}/{p.card.exp_year % 100:02d}"
            )
            if p.card
            else ""
        )
        self.card_expired = p.card_expired
        self.has_link = p.has_portal_link
        self.link_api_url = routes.console_portal_link_url(self.profile_id)
        self.last_visit = day(p.last_visit_at)
        self.invoices = [
            {
                "id": str(inv.invoice_id),
                "number": inv.number or "Draft",
                "date": day(inv.finalized_at),
                "amount": money(inv.total),
                "status": inv.status,
                "status_label": STATUS_LABELS.get(inv.status, inv.status),
                "downloadable": "yes" if inv.downloadable else "",
            }
            for inv in p.invoices
        ]
        self.reviews = [
            {
                "id": str(r.attempt_id),
                "number": r.invoice_number or "Draft",
                "amount": money(r.amount),
                "date": day(r.created_at),
                "reason": r.reason + (f" Processor reference: {r.gateway_ref}." if r.gateway_ref else ""),
            }
            for r in p.reviews
        ]
        self.timeline = [
            {"at": e.at.strftime("%Y-%m-%d %H:%M UTC"), "icon": e.category, "title": e.title, "detail": e.detail}
            for e in profile_facade.subscriber_timeline(
                merchant_id=merchant_id, subscriber_id=self.profile_id, limit=100
            )
        ]

    @rx.event
    def load(self):
        identity = self._load_console_header()
        if identity is None:
            return to_sign_in()
        self.confirm = ""
        try:
            self.profile_id = forms_facade.parse_id(self.router.page.params.get("subscriber_id", ""), "subscriber")
            self._refresh(identity.merchant_id)
        except BillingError:
            self.found = False
            self.profile_id = 0
            return rx.redirect(routes.CONSOLE_SUBSCRIBERS, replace=True)

    @rx.event
    def link_outcome(self, outcome: str):
        """How showing or copying the link went in the browser (a code, never the link): the toast."""
        if self._authorize() is None or outcome == "signed_out":
            return to_sign_in()
        if outcome == "copied":
            return rx.toast.success("Portal link copied.")
        if outcome == "gone":
            self.has_link = False
            return rx.toast.error("There is no live portal link.")
        if outcome != "shown":
            return rx.toast.error("Couldn't get the portal link. Try again.")

    @rx.event
    def set_confirm(self, value: str):
        self.confirm = value if value in ("regenerate", "delete") and self._authorize() is not None else ""

    @rx.event
    def ask_resolve_review(self, attempt_id: str, resolution: str):
        """Open the confirm dialog of one resolution of a payment in review."""
        self.confirm, self.review_attempt = "", ""
        if self._authorize() is None:
            return to_sign_in()
        if resolution in _RESOLUTIONS and any(r["id"] == attempt_id for r in self.reviews):
            self.confirm, self.review_attempt = f"review_{resolution}", attempt_id

    @rx.event
    def resolve_review(self, attempt_id: str, resolution: str):
        identity = self._authorize()
        if identity is None:
            return to_sign_in()
        self.confirm, self.review_attempt = "", ""
        if resolution not in _RESOLUTIONS:
            return rx.toast.error("Choose how to resolve this payment.")
        try:
            number = profile_facade.resolve_payment_review(
                merchant_id=identity.merchant_id, user_id=identity.user_id, attempt_id=attempt_id, resolution=resolution
            )
        except BillingError as err:
            if self.profile_id:
                self._refresh(identity.merchant_id)
            return rx.toast.error(err.message)
        self._refresh(identity.merchant_id)
        return rx.toast.success(_RESOLUTIONS[resolution].format(number=number))

    @rx.event
    def close_confirm(self, open_: bool):
        if not open_:
            self.confirm = ""

    @rx.event
    def regenerate(self):
        identity = self._authorize()
        if identity is None:
            return to_sign_in()
        self.confirm = ""
        try:
            profile_facade.regenerate_portal_link(
                merchant_id=identity.merchant_id, user_id=identity.user_id, subscriber_id=self.profile_id
            )
        except BillingError as err:
            return rx.toast.error(err.message)
        self._refresh(identity.merchant_id)
        self.link_version += 1
        return rx.toast.success("New portal link created. The old link no longer works.")

    @rx.event
    def send_invitation(self):
        identity = self._authorize()
        if identity is None:
            return to_sign_in()
        try:
            address = profile_facade.send_invitation(
                merchant_id=identity.merchant_id, user_id=identity.user_id, subscriber_id=self.profile_id
            )
        except BillingError as err:
            return rx.toast.error(err.message)
        self._refresh(identity.merchant_id)
        return rx.toast.success(f"Invitation sent to {address}.")

    @rx.event
    def delete_subscription(self):
        identity = self._authorize()
        if identity is None:
            return to_sign_in()
        self.confirm = ""
        try:
            profile_facade.delete_subscription(
                merchant_id=identity.merchant_id, user_id=identity.user_id, subscriber_id=self.profile_id
            )
        except BillingError as err:
            return rx.toast.error(err.message)
        self._refresh(identity.merchant_id)
        self.link_version += 1
        return rx.toast.success("Subscription deleted. The portal link no longer works.")

    @rx.event
    def download_invoice(self, invoice_id: str):
        identity = self._authorize()
        if identity is None:
            return to_sign_in()
        try:
            filename, data = profile_facade.invoice_pdf(merchant_id=identity.merchant_id, invoice_id=invoice_id)
        except BillingError as err:
            return rx.toast.error(err.message)
        return rx.download(data=data, filename=filename)


def _overview() -> rx.Component:
    P = ConsoleProfileState
    return section(
        rx.cond(
            P.has_subscription,
            rx.vstack(
                rx.flex(
                    rx.link(
                        P.plan_name,
                        href=P.plan_url,
                        size="5",
                        weight="bold",
                        data_testid="profile-plan",
                        min_height=TAP,
                        display="inline-flex",
                        align_items="center",
                    ),
                    rx.box(status_badge(P.status, P.status_label), data_testid="profile-status", data_status=P.status),
                    spacing="3",
                    align="center",
                    wrap="wrap",
                ),
                rx.flex(
                    fact("Next renewal", rx.cond(P.next_renewal != "", P.next_renewal, "—"), "profile-next-date"),
                    fact("Amount", rx.cond(P.next_amount != "", P.next_amount, "—"), "profile-next-amount"),
                    rx.cond(P.amount_due != "", fact("Amount due", P.amount_due, "profile-amount-due")),
                    spacing="5",
                    wrap="wrap",
                ),
                rx.cond(P.cancel_note != "", rx.text(P.cancel_note, size="2", color_scheme="gray")),
                spacing="3",
                width="100%",
            ),
            rx.text(
                rx.cond(P.deleted, "The subscription was deleted.", "No subscription."),
                color_scheme="gray",
                data_testid="profile-no-subscription",
            ),
        ),
        rx.flex(
            rx.icon("credit_card", size=18, aria_hidden="true"),
            rx.text(
                rx.cond(P.card != "", P.card, "No card on file."),
                data_testid="profile-card",
                color=rx.cond(P.card_expired, "var(--red-11)", "inherit"),
            ),
            rx.cond(P.card_expired, rx.badge("Expired", color_scheme="red", size="2")),
            spacing="2",
            align="center",
            wrap="wrap",
        ),
        title="Subscription",
    )


def _portal_link() -> rx.Component:
    P = ConsoleProfileState
    return section(
        rx.cond(
            P.has_link,
            rx.vstack(
                rx.el.label("Customer Portal URL", html_for="portal-url", font_weight="500", font_size="14px"),
                link_field(P.link_version),
                rx.text(
                    rx.cond(P.last_visit != "", "Last opened " + P.last_visit, "Not opened yet."),
                    size="2",
                    color_scheme="gray",
                ),
                spacing="1",
                width="100%",
            ),
            rx.text(
                rx.cond(
                    P.deleted,
                    "The portal is closed: the subscription was deleted.",
                    "No live portal link. Regenerate one to share it.",
                ),
                color_scheme="gray",
                data_testid="portal-url-none",
            ),
        ),
        rx.flex(
            rx.button(
                rx.icon("copy", size=16, aria_hidden="true"),
                "Copy link",
                size="3",
                min_height=TAP,
                on_click=copy_link(P.link_api_url, P.link_outcome),
                disabled=~P.has_link,
            ),
            rx.button(
                rx.icon("eye", size=16, aria_hidden="true"),
                "Show link",
                size="3",
                min_height=TAP,
                variant="soft",
                on_click=show_link(P.link_api_url, P.link_outcome),
                disabled=~P.has_link,
            ),
            rx.button(
                rx.icon("mail", size=16, aria_hidden="true"),
                "Send invitation email",
                size="3",
                min_height=TAP,
                variant="soft",
                on_click=P.send_invitation,
                disabled=P.deleted,
            ),
            rx.button(
                rx.icon("refresh_cw", size=16, aria_hidden="true"),
                "Regenerate link",
                size="3",
                min_height=TAP,
                variant="soft",
                color_scheme="orange",
                on_click=P.set_confirm("regenerate"),
                disabled=P.deleted,
            ),
            rx.cond(
                P.has_subscription,
                rx.button(
                    rx.icon("trash_2", size=16, aria_hidden="true"),
                    "Delete subscription",
                    size="3",
                    min_height=TAP,
                    variant="soft",
                    color_scheme="red",
                    on_click=P.set_confirm("delete"),
                ),
            ),
            spacing="3",
            wrap="wrap",
        ),
        confirm_dialog(
            "Regenerate the portal link?",
            "The current link stops working at once, also in browsers that opened it. "
            "Send the new link to the subscriber afterwards.",
            "Regenerate link",
            P.regenerate,
            open_=P.confirm == "regenerate",
            on_open_change=P.close_confirm,
        ),
        confirm_dialog(
            "Delete this subscription?",
            "It ends now, unpaid invoices are voided and the portal link stops working. This can't be undone.",
            "Delete subscription",
            P.delete_subscription,
            open_=P.confirm == "delete",
            on_open_change=P.close_confirm,
        ),
        title="Customer Portal",
    )


def profile_page() -> rx.Component:
    P = ConsoleProfileState
    return console_page(
        rx.link(
            "← Subscribers",
            href=routes.CONSOLE_SUBSCRIBERS,
            size="2",
            min_height=TAP,
            display="inline-flex",
            align_items="center",
        ),
        rx.vstack(
            rx.heading(P.name, size="6", as_="h1", data_testid="profile-name"),
            rx.text(P.email, color_scheme="gray", word_break="break-all", data_testid="profile-email"),
            rx.text("Customer since ", P.since, " · language: ", P.language, size="2", color_scheme="gray"),
            spacing="1",
        ),
        rx.grid(
            _overview(),
            _portal_link(),
            columns=rx.breakpoints(initial="1", md="2"),
            spacing="4",
            width="100%",
        ),
        review_section(
            P.reviews,
            ask=P.ask_resolve_review,
            resolve=P.resolve_review,
            attempt=P.review_attempt,
            confirm=P.confirm,
            on_open_change=P.close_confirm,
        ),
        section(
            rx.cond(
                P.invoices.length() > 0,
                rx.el.ul(
                    rx.foreach(P.invoices, lambda inv: invoice_row(inv, P.download_invoice)),
                    padding="0",
                    margin="0",
                    width="100%",
                ),
                rx.text("No invoices yet.", color_scheme="gray"),
            ),
            subscriber_invoices_export(P.profile_id),
            title="Invoices",
        ),
        section(
            rx.cond(
                P.timeline.length() > 0,
                rx.el.ul(rx.foreach(P.timeline, timeline_row), padding="0", margin="0", width="100%"),
                rx.text("Nothing yet.", color_scheme="gray"),
            ),
            title="Timeline",
        ),
    )
