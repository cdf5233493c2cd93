"""Portal: "Pay now" on an open invoice charges the card on file while the subscriber waits, and
answers with the same outcome messages as the card form (a 3DS hold in Stripe mode offers the
bank's challenge, like a card update's retry)."""

from __future__ import annotations

import reflex as rx

from portal_app import i18n
from portal_app.billing.errors import BillingError, NotFound
from portal_app.billing.facades import portal as portal_facade
from portal_app.billing.facades import portal_payments
from portal_app.billing.payments.attempts import PaymentOutcome
from portal_app.pages.portal import toasts
from portal_app.pages.portal.payment_method import PortalCardState


class PortalPayState(PortalCardState):
    paying_id: str = ""
    pay_message: str = ""
    pay_ok: bool = False

    @rx.event
    def pay_now(self, invoice_id: str):
        """Charge one of this subscriber's open invoices (the facade checks it is theirs and open)."""
        identity = self._portal_identity()
        if identity is None:
            yield self._to_invalid()
            return
        if not isinstance(invoice_id, str) or not invoice_id.isdigit() or len(invoice_id) > 19:
            return
        self.paying_id = invoice_id
        self.pay_message = ""
        yield
        lang, was_owing = self.lang, self.fix_status != ""
        try:
            charge = portal_payments.pay_invoice(
                merchant_id=identity[0], subscriber_id=identity[1], invoice_id=invoice_id
            )
        except NotFound:
            self.pay_ok, self.pay_message = False, i18n.payment_message("not_payable", lang)
            yield toasts.fail(self.pay_message)
            return
        except BillingError as err:
            self.pay_ok, self.pay_message = False, portal_facade.error_text(err, lang)
            yield toasts.fail(self.pay_message)
            return
        finally:
            self.paying_id = ""
        self.pay_ok = charge.paid
        self.pay_message = portal_facade.charge_text(charge, lang)
        self._refresh(*identity)
        if charge.succeeded and was_owing and not self.fix_status:
            self.pay_message = i18n.t(lang, "card_saved_paid", amount=i18n.fmt_money(charge.amount, lang))
        if charge.outcome is PaymentOutcome.REQUIRES_ACTION:
            self._load_payment_to_authenticate(*identity)
        yield toasts.ok(self.pay_message) if charge.paid else toasts.fail(self.pay_message)
