"""/portal: the subscriber's page. PortalState loads everything the page shows; the sections
(payment method, cancel, invoices, billing details) live in their own modules with their own
substates. Every handler re-checks the portal session first."""

from __future__ import annotations

import reflex as rx

from portal_app import connections, i18n, routes
from portal_app.billing.errors import BillingError
from portal_app.billing.facades import portal as portal_facade
from portal_app.billing.facades import portal_credit_notes as credit_notes_facade
from portal_app.billing.facades import portal_ended
from portal_app.pages.portal import toasts
from portal_app.pages.portal.lifecycle_fields import lifecycle_fields
from portal_app.pages.portal.rows import FIRST_INVOICES, MORE_INVOICES, around, invoice_rows
from portal_app.state import PortalSessionState

_FIX_TITLES = {"past_due": "fix_past_due_title", "unpaid": "fix_past_due_title", "incomplete": "fix_incomplete_title"}
_FIX_BODIES = {"past_due": "fix_past_due_body", "unpaid": "fix_unpaid_body", "incomplete": "fix_incomplete_body"}


def to_invalid_page(merchant_slug: str = "", lang: str = "", reason: str = "ended"):
    """Where every portal handler sends a browser without a live portal session: the invalid-link
    page, branded and in the page's language when the page knew the merchant, worded for `reason`."""
    url = routes.portal_invalid_url(reason, merchant_slug=merchant_slug, lang=lang) if merchant_slug else None
    return rx.redirect(url or routes.PORTAL_INVALID, replace=True)


def _exp(month: int, year: int) -> str:
    return f"{month:02d}/{year % 100:02d}"


class PortalState(PortalSessionState):
    loaded: bool = False
    lang: str = "en"
    tx: dict[str, str] = i18n.all_text("en")
    merchant_name: str = ""
    merchant_slug: str = ""
    support_email: str = ""
    brand_color: str = portal_facade.DEFAULT_BRAND_COLOR
    logo_url: str = ""
    test_mode: bool = False
    subscriber_name: str = ""
    greeting: str = ""

    has_subscription: bool = False
    plan_name: str = ""
    status: str = ""
    status_label: str = ""
    next_date: str = ""
    next_amount: str = ""
    amount_due: str = ""
    next_line: str = ""
    # The fix first: past due / unpaid / incomplete with an amount open ("" = nothing to fix).
    fix_status: str = ""
    fix_title: str = ""
    fix_body: str = ""
    fix_action: str = ""

    has_card: bool = False
    card_label: str = ""
    card_expiry: str = ""
    card_expired: bool = False

    lifecycle: dict[str, str] = {}  # pause and trial facts (lifecycle_fields.py, pause.py)
    can_cancel: bool = False
    cancel_note: str = ""
    not_allowed_note: str = ""
    # The note split around the merchant's name, which links to the support email.
    not_allowed_before: str = ""
    not_allowed_after: str = ""
    can_undo: bool = False
    contact_before: str = ""
    contact_after: str = ""

    invoices: list[dict[str, str]] = []
    more_invoices: bool = False
    any_payable: bool = False  # an open invoice is listed (its Pay now column is kept on every row)
    invoice_limit: int = FIRST_INVOICES

    billing_name: str = ""
    billing_address: str = ""
    tax_id: str = ""

    # A portal grant's step to open (?flow=, whitelisted) and its "Return to <merchant>" link.
    flow: str = ""
    return_url: str = ""
    return_label: str = ""
    # Server-side only: the rows behind the visible invoice list, and the merchant's website.
    _all_invoices: list = []
    _invoice_years: dict = {}
    _credit_notes: list = []
    _website_url: str = ""

    def _to_invalid(self):
        """The invalid-link page for this browser, branded for the merchant of its ended session (the
        state itself was emptied by owners.py the moment the session stopped being live)."""
        reason, slug, lang = portal_ended.ended_session(connections.cookie_of(self.router.headers.raw_headers))
        return to_invalid_page(slug or self.merchant_slug, lang or self.lang, reason)

    def _identity_or_redirect(self):
        """(merchant_id, subscriber_id), or an event sending the browser to the invalid-link page."""
        identity = self._portal_identity()
        if identity is None:
            self.loaded = False
            return None, self._to_invalid()
        return identity, None

    def _refresh(self, merchant_id: int, subscriber_id: int) -> bool:
        summary = portal_facade.portal_summary(merchant_id=merchant_id, subscriber_id=subscriber_id)
        if summary is None:
            return False
        lang = i18n.language(summary.language)
        self.lang, self.tx = lang, i18n.all_text(lang)
        self.merchant_name = summary.merchant_name
        self.merchant_slug = summary.merchant_slug
        self.support_email = summary.support_email
        self.brand_color = summary.brand_color
        self._website_url = summary.website_url
        self.logo_url = (
            routes.merchant_logo_url(summary.merchant_slug, summary.logo_version) if summary.logo_version else ""
        )
        self.test_mode = portal_facade.test_mode()
        self.subscriber_name = summary.subscriber_name
        self.greeting = i18n.t(lang, "hello", name=summary.subscriber_name)
        self.lifecycle = lifecycle_fields(merchant_id, subscriber_id, lang)  # before: the next line reads it
        self._fill_subscription(summary, lang)
        card = summary.card
        self.has_card = card is not None
        self.card_label = i18n.t(lang, "card_ending", brand=card.brand.title(), last4=card.last4) if card else ""
        self.card_expired = summary.card_expired
        if card:
            self.card_expiry = i18n.t(
                lang, "expired" if summary.card_expired else "expires", exp=_exp(card.exp_month, card.exp_year)
            )
        else:
            self.card_expiry = ""
        self._all_invoices = list(summary.invoices)
        self._invoice_years = dict(summary.invoice_years)
        self._credit_notes = credit_notes_facade.portal_credit_notes(
            merchant_id=merchant_id, subscriber_id=subscriber_id
        )
        self._fill_invoices()
        self.billing_name = summary.billing_name
        self.billing_address = summary.billing_address
        self.tax_id = summary.tax_id
        self.return_label = i18n.t(lang, "return_to", merchant=summary.merchant_name)
        contact = i18n.t(lang, "contact_line", merchant=summary.merchant_name) if summary.support_email else ""
        self.contact_before, _, self.contact_after = around(contact, summary.merchant_name)
        self.loaded = True
        return True

    def _fill_invoices(self) -> None:
        self.invoices, self.more_invoices = invoice_rows(
            self._all_invoices, self._invoice_years, self.lang, self.invoice_limit, self._credit_notes
        )
        self.any_payable = any(row["payable"] for row in self.invoices)

    def _fill_subscription(self, summary: portal_facade.PortalSummary, lang: str) -> None:
        sub = summary.subscription
        self.has_subscription = sub is not None
        if sub is None:
            self.plan_name = self.status = self.status_label = self.next_date = self.next_amount = ""
            self.next_line = self.amount_due = self.cancel_note = self.not_allowed_note = ""
            self.not_allowed_before = self.not_allowed_after = ""
            self.fix_status = self.fix_title = self.fix_body = self.fix_action = ""
            self.can_cancel = self.can_undo = False
            return
        self.plan_name = sub.plan_name
        self.status = sub.display_status
        self.status_label = i18n.t(lang, f"s_{self.status}")
        self.next_date = i18n.fmt_date(sub.next_renewal_at, lang)
        self.next_amount = i18n.fmt_money(sub.next_amount, lang)
        self.amount_due = i18n.fmt_money(sub.amount_due, lang)
        self._fill_fix(summary.payment_problem, lang)
        if self.fix_status:
            # Nothing reads as if all were well while money is owed: the alert says what to do.
            self.next_date = self.next_amount = self.next_line = ""
        elif sub.asks_for_payment:
            self.next_line = i18n.t(lang, sub.status, amount=self.amount_due)
        elif sub.on_grace_period and sub.access_ends_at:
            self.next_line = i18n.t(lang, "access_ends", date=i18n.fmt_date(sub.access_ends_at, lang))
        elif sub.is_ended:
            self.next_line = i18n.t(lang, "ended")
        elif sub.next_renewal_at and sub.next_amount and not self.lifecycle.get("trial_then"):
            # (a trial says it once: "Trial ends <day>" and "Then <amount> on <day>", pause.py)
            self.next_line = i18n.t(lang, "will_charge", amount=self.next_amount, date=self.next_date)
        else:
            self.next_line = ""
        self.can_cancel = sub.can_self_cancel
        self.can_undo = sub.on_grace_period
        self.cancel_note = (
            i18n.t(lang, "cancel_immediately")
            if summary.cancels_immediately
            else i18n.t(lang, "cancel_at_period_end", date=i18n.fmt_date(sub.current_period_end, lang))
        )
        self.not_allowed_note = (
            i18n.t(lang, "cancel_not_allowed", merchant=summary.merchant_name) if summary.cancel_not_allowed else ""
        )
        linked = summary.merchant_name if summary.support_email else ""
        self.not_allowed_before, _, self.not_allowed_after = around(self.not_allowed_note, linked)

    def _fill_fix(self, problem: portal_facade.PaymentProblem | None, lang: str) -> None:
        if problem is None:
            self.fix_status = self.fix_title = self.fix_body = self.fix_action = ""
            return
        amount = i18n.fmt_money(problem.amount_due, lang)
        self.fix_status = problem.status
        self.fix_title = i18n.t(lang, _FIX_TITLES[problem.status], amount=amount)
        reason = i18n.decline_reason(problem.decline_code, lang) if problem.decline_code else ""
        self.fix_body = " ".join(part for part in (reason, i18n.t(lang, _FIX_BODIES[problem.status])) if part)
        self.fix_action = i18n.t(lang, "fix_action", amount=amount)

    @rx.event
    def load(self):
        """on_load: authorize the session, then read the page; no session -> the generic page."""
        identity, redirect = self._identity_or_redirect()
        if identity is None:
            return redirect
        if not self._refresh(*identity):
            return self._to_invalid()
        flow = self.router.page.params.get("flow", "")
        self.flow = flow if isinstance(flow, str) and flow in portal_facade.PORTAL_FLOWS else ""
        website = self._website_url if self._website_url.startswith(("https://", "http://")) else ""
        # The portal grant's return URL wins; the lasting link returns to the merchant's website.
        self.return_url = self._portal_return_url() or website

    @rx.event
    def show_more_invoices(self):
        """Show the next invoices of the history (older ones, by year)."""
        identity, redirect = self._identity_or_redirect()
        if identity is None:
            return redirect
        self.invoice_limit = min(self.invoice_limit + MORE_INVOICES, 10_000)
        self._fill_invoices()

    @rx.event
    def set_language(self, language: str):
        identity, redirect = self._identity_or_redirect()
        if identity is None:
            return redirect
        try:
            portal_facade.change_language(merchant_id=identity[0], subscriber_id=identity[1], language=language)
        except BillingError as err:
            return toasts.fail(portal_facade.error_text(err, self.lang))
        self._refresh(*identity)
        return toasts.ok(self.tx["toast_language"])
