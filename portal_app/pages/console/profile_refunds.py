"""The profile's refunds: the state the refund dialog needs, mixed into ConsoleProfileState (its
_authorize, _refresh, profile_id and invoices). Each invoice row learns its refund label and whether it
can still be refunded; the dialog takes an amount (in the invoice's currency) and a reason."""

from __future__ import annotations

import reflex as rx

from portal_app.billing.errors import BillingError
from portal_app.billing.facades.console import refunds as refunds_facade
from portal_app.pages.console.base import money, to_sign_in

REASON_MAX = 500


class ProfileRefundsMixin(rx.State, mixin=True):
    refund_invoice_id: str = ""  # the invoice the open dialog refunds ("" = closed)
    refund_number: str = ""
    refund_left: str = ""  # "$29.00": at most this much
    refund_currency: str = ""
    refund_amount: str = ""
    refund_reason: str = ""
    refund_error: str = ""

    def _mark_refunds(self, merchant_id: int) -> None:
        """Add each paid invoice's refund label ("Refunded $29.00" / "Partially refunded · $10.00")."""
        pictures = refunds_facade.invoice_refunds(merchant_id=merchant_id, subscriber_id=self.profile_id)
        rows = []
        for inv in self.invoices:
            picture = pictures.get(int(inv["id"]))
            label = ""
            if picture is not None and picture.fully_refunded:
                label = f"Refunded {money(picture.refunded)}"
            elif picture is not None and picture.partially_refunded:
                label = f"Partially refunded · {money(picture.refunded)}"
            left = picture is not None and picture.refundable.amount_minor > 0
            rows.append({**inv, "refund_label": label, "refundable": "yes" if left else ""})
        self.invoices = rows

    @rx.event
    def open_refund(self, invoice_id: str):
        identity = self._authorize()
        if identity is None:
            return to_sign_in()
        self.refund_invoice_id, self.refund_error = "", ""
        if not isinstance(invoice_id, str) or not any(r["id"] == invoice_id for r in self.invoices):
            return rx.toast.error("Invoice not found.")
        try:
            picture = refunds_facade.refund_form(merchant_id=identity.merchant_id, invoice_id=invoice_id)
        except BillingError as err:
            return rx.toast.error(err.message)
        self.refund_invoice_id = invoice_id
        self.refund_number = picture.number
        self.refund_left = money(picture.refundable)
        self.refund_currency = picture.refundable.currency
        self.refund_amount = str(picture.refundable.to_decimal())
        self.refund_reason = ""

    @rx.event
    def set_refund_amount(self, value: str):
        self.refund_amount = value[:20] if isinstance(value, str) else ""
        self.refund_error = ""

    @rx.event
    def set_refund_reason(self, value: str):
        self.refund_reason = value[:REASON_MAX] if isinstance(value, str) else ""

    @rx.event
    def close_refund(self, open_: bool):
        if not open_:
            self.refund_invoice_id, self.refund_error = "", ""

    @rx.event
    def submit_refund(self):
        identity = self._authorize()
        if identity is None:
            return to_sign_in()
        invoice_id = self.refund_invoice_id
        if not invoice_id:  # a second click after the first one closed the dialog
            return None
        try:
            result = refunds_facade.refund_invoice(
                merchant_id=identity.merchant_id,
                user_id=identity.user_id,
                invoice_id=invoice_id,
                amount=self.refund_amount,
                reason=self.refund_reason,
            )
        except BillingError as err:
            self.refund_error = err.message
            return None
        self.refund_invoice_id = ""
        self._refresh(identity.merchant_id)
        amount = money(result.amount)
        if result.outcome is refunds_facade.RefundOutcome.SUCCEEDED:
            return rx.toast.success(
                f"Refunded {amount} of {result.invoice_number}: credit note {result.credit_note_number}."
            )
        if result.outcome is refunds_facade.RefundOutcome.UNKNOWN:
            return rx.toast.warning(
                f"The refund of {amount} was sent but the payment processor did not answer yet. "
                "It is settled on the next billing run; nothing is refunded twice."
            )
        return rx.toast.error(f"The refund of {amount} failed: {result.message}")
