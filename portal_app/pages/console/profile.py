"""/console/subscribers/<id>: one subscriber's profile: status, plan, next renewal, card, invoices
(download), payments to review (mark paid, retry, void), the portal link (copy, regenerate, send again),
delete, and the timeline."""

from __future__ import annotations

import reflex as rx

from portal_app import routes
from portal_app.billing.errors import BillingError
from portal_app.billing.facades.console import forms as forms_facade
from portal_app.billing.facades.console import profile as profile_facade
from portal_app.components.console_layout import TAP, console_status_badge, section
from portal_app.components.csv_export import subscriber_invoices_export
from portal_app.components.portal_link import portal_link_section
from portal_app.components.profile_parts import fact, invoice_row, timeline_row
from portal_app.components.profile_reviews import review_section
from portal_app.components.refund_dialog import refund_dialog, refund_parts
from portal_app.pages.console.base import STATUS_LABELS, ConsoleState, console_page, day, money, to_sign_in
from portal_app.pages.console.profile_refunds import ProfileRefundsMixin

# Each resolution of a payment in review, and what the toast says once it is done.
_RESOLUTIONS = {
    "paid": "Invoice {number} marked paid.",
    "retry": "Invoice {number} will be charged again on the next billing run.",
    "void": "Invoice {number} voided.",
}


class ConsoleProfileState(ProfileRefundsMixin, ConsoleState):
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
    status_key: str = ""  # the badge (subscription_views.status_key)
    status_label: str = ""  # subscription_views.status_label: "Active · cancels Dec 21, 2026"
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
        self.since = day(p.customer_since or p.created_at)
        sub = p.subscription
        self.has_subscription = sub is not None
        self.deleted = p.deleted
        self.plan_name = sub.plan_name if sub else ""
        self.plan_url = routes.console_plan_url(sub.plan_id) if sub else ""
        self.status = sub.display_status if sub else ""
        self.status_key = sub.status_key if sub else ""
        self.status_label = sub.status_label if sub else ""
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
        self._mark_refunds(merchant_id)
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
    def regenerate(self, send_email: bool = False):
        """New link; with send_email (exactly True) the subscriber gets it by email at once."""
        identity = self._authorize()
        if identity is None:
            return to_sign_in()
        self.confirm = ""
        send_email = send_email is True
        try:
            profile_facade.regenerate_portal_link(
                merchant_id=identity.merchant_id,
                user_id=identity.user_id,
                subscriber_id=self.profile_id,
                email=send_email,
            )
        except BillingError as err:
            return rx.toast.error(err.message)
        self._refresh(identity.merchant_id)
        self.link_version += 1
        if send_email:
            return rx.toast.success(
                f"New portal link created and emailed to {self.email}. The old link no longer works."
            )
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
                    rx.box(
                        console_status_badge(P.status_key, P.status_label),
                        data_testid="profile-status",
                        data_status=P.status,
                    ),
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
            rx.text(
                "Customer since ",
                rx.el.span(P.since, data_testid="profile-since"),
                " · language: ",
                P.language,
                size="2",
                color_scheme="gray",
            ),
            spacing="1",
        ),
        rx.grid(
            _overview(),
            portal_link_section(P),
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
                    rx.foreach(
                        P.invoices, lambda inv: invoice_row(inv, P.download_invoice, *refund_parts(inv, P.open_refund))
                    ),
                    padding="0",
                    margin="0",
                    width="100%",
                ),
                rx.text("No invoices yet.", color_scheme="gray"),
            ),
            subscriber_invoices_export(P.profile_id),
            refund_dialog(P),
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
        current=routes.CONSOLE_SUBSCRIBERS,
    )
