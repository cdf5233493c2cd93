"""/portal: the subscriber's page. PortalState loads everything the page shows; the sections
(payment method, cancel, invoices, billing details) live in their own modules with their own
substates. Every handler re-checks the portal session first."""

from __future__ import annotations

import reflex as rx

from portal_app import i18n, routes
from portal_app.billing.errors import BillingError
from portal_app.billing.facades import portal as portal_facade
from portal_app.state import PortalSessionState


def to_invalid_page():
    """Where every portal handler sends a browser without a live portal session."""
    return rx.redirect(routes.PORTAL_INVALID, replace=True)


def _exp(month: int, year: int) -> str:
    return f"{month:02d}/{year % 100:02d}"


class PortalState(PortalSessionState):
    loaded: bool = False
    lang: str = "en"
    tx: dict[str, str] = i18n.all_text("en")
    merchant_name: str = ""
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

    has_card: bool = False
    card_label: str = ""
    card_expiry: str = ""
    card_expired: bool = False

    can_cancel: bool = False
    cancel_note: str = ""
    not_allowed_note: str = ""
    can_undo: bool = False

    invoices: list[dict[str, str]] = []
    years: list[dict[str, str]] = []

    billing_name: str = ""
    billing_address: str = ""
    tax_id: str = ""

    # A portal grant's step to open (?flow=, whitelisted) and its "Return to <merchant>" link.
    flow: str = ""
    return_url: str = ""
    return_label: str = ""

    def _identity_or_redirect(self):
        """(merchant_id, subscriber_id), or an event sending the browser to the generic page."""
        identity = self._portal_identity()
        if identity is None:
            self.loaded = False
            return None, to_invalid_page()
        return identity, None

    def _refresh(self, merchant_id: int, subscriber_id: int) -> bool:
        summary = portal_facade.portal_summary(merchant_id=merchant_id, subscriber_id=subscriber_id)
        if summary is None:
            return False
        lang = i18n.language(summary.language)
        self.lang, self.tx = lang, i18n.all_text(lang)
        self.merchant_name = summary.merchant_name
        self.logo_url = (
            routes.merchant_logo_url(summary.merchant_slug, summary.logo_version) if summary.logo_version else ""
        )
        self.test_mode = portal_facade.test_mode()
        self.subscriber_name = summary.subscriber_name
        self.greeting = i18n.t(lang, "hello", name=summary.subscriber_name)
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
        self.invoices = [
            {
                "id": str(row.invoice_id),
                "date": i18n.fmt_short_date(row.finalized_at, lang),
                "number": row.number,
                "amount": i18n.fmt_money(row.total, lang),
                "status": row.status,
                "status_label": i18n.t(lang, f"s_{row.status}"),
                "url": routes.invoice_pdf_url(row.invoice_id),
                "aria": i18n.t(lang, "download_pdf", number=row.number),
            }
            for row in summary.invoices
        ]
        self.years = [
            {
                "label": i18n.t(lang, "download_year", year=year, count=count),
                "url": routes.invoice_year_zip_url(year),
                "year": str(year),
            }
            for year, count in summary.invoice_years.items()
        ]
        self.billing_name = summary.billing_name
        self.billing_address = summary.billing_address
        self.tax_id = summary.tax_id
        self.return_label = i18n.t(lang, "return_to", merchant=summary.merchant_name)
        self.loaded = True
        return True

    def _fill_subscription(self, summary: portal_facade.PortalSummary, lang: str) -> None:
        sub = summary.subscription
        self.has_subscription = sub is not None
        if sub is None:
            self.plan_name = self.status = self.status_label = self.next_date = self.next_amount = ""
            self.next_line = self.amount_due = self.cancel_note = self.not_allowed_note = ""
            self.can_cancel = self.can_undo = False
            return
        self.plan_name = sub.plan_name
        self.status = sub.display_status
        self.status_label = i18n.t(lang, f"s_{self.status}")
        self.next_date = i18n.fmt_date(sub.next_renewal_at, lang)
        self.next_amount = i18n.fmt_money(sub.next_amount, lang)
        self.amount_due = i18n.fmt_money(sub.amount_due, lang)
        if sub.asks_for_payment:
            self.next_line = i18n.t(lang, sub.status, amount=self.amount_due)
        elif sub.on_grace_period and sub.access_ends_at:
            self.next_line = i18n.t(lang, "access_ends", date=i18n.fmt_date(sub.access_ends_at, lang))
        elif sub.is_ended:
            self.next_line = i18n.t(lang, "ended")
        elif sub.next_renewal_at and sub.next_amount:
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

    @rx.event
    def load(self):
        """on_load: authorize the session, then read the page; no session -> the generic page."""
        identity, redirect = self._identity_or_redirect()
        if identity is None:
            return redirect
        if not self._refresh(*identity):
            return to_invalid_page()
        flow = self.router.page.params.get("flow", "")
        self.flow = flow if isinstance(flow, str) and flow in portal_facade.PORTAL_FLOWS else ""
        self.return_url = self._portal_return_url()

    @rx.event
    def set_language(self, language: str):
        identity, redirect = self._identity_or_redirect()
        if identity is None:
            return redirect
        try:
            portal_facade.change_language(merchant_id=identity[0], subscriber_id=identity[1], language=language)
        except BillingError as err:
            return rx.toast.error(portal_facade.error_text(err, self.lang))
        self._refresh(*identity)
