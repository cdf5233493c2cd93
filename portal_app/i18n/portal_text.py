"""The portal's UI text: the key each page asks for, and its English msgid in the catalogue."""

from __future__ import annotations

from portal_app.i18n.catalogue import NC_
from portal_app.i18n.lifecycle_text import LIFECYCLE_TEXT
from portal_app.i18n.retention_step_up_text import RETENTION_STEP_UP_TEXT

PORTAL = "portal"  # msgctxt of the portal's texts (formal "usted" in Spanish, like every other text)

PORTAL_TEXT: dict[str, str] = {
    "hello": NC_("portal", "Hello, %(name)s"),
    "plan": NC_("portal", "Plan"),
    "status": NC_("portal", "Status"),
    "next_review_date": NC_("portal", "Next review date"),
    "next_amount": NC_("portal", "Next payment"),
    "amount_due": NC_("portal", "Amount due"),
    "will_charge": NC_("portal", "Your card will be charged %(amount)s on %(date)s."),
    "access_ends": NC_("portal", "Your subscription is canceled. Access ends on %(date)s."),
    "ended": NC_("portal", "Your subscription has ended."),
    "past_due": NC_(
        "portal", "Your last payment failed. Update your card to pay %(amount)s and restore your subscription."
    ),
    "unpaid": NC_(
        "portal", "Your subscription is suspended for an unpaid balance of %(amount)s. Update your card to restore it."
    ),
    "fix_past_due_title": NC_("portal", "Your payment of %(amount)s didn't go through"),
    "fix_incomplete_title": NC_("portal", "Your first payment of %(amount)s didn't go through"),
    "fix_past_due_body": NC_("portal", "Update your card to pay the balance and keep your subscription."),
    "fix_unpaid_body": NC_("portal", "Your subscription is suspended until the balance is paid."),
    "fix_incomplete_body": NC_("portal", "Your subscription starts as soon as the first payment is made."),
    "fix_action": NC_("portal", "Update card and pay %(amount)s"),
    "pay_now": NC_("portal", "Pay now"),
    "pay_invoice_aria": NC_("portal", "Pay now: invoice %(number)s"),
    "card_on_file_charged": NC_("portal", "We charge the card on file."),
    "contact_line": NC_("portal", "Questions? Contact %(merchant)s"),
    "loading": NC_("portal", "Loading your subscription"),
    "show_more": NC_("portal", "Show more invoices"),
    "details": NC_("portal", "Details"),
    "toast_canceled": NC_("portal", "Your subscription is canceled."),
    "toast_cancel_scheduled": NC_("portal", "Your subscription ends on %(date)s."),
    "toast_undone": NC_("portal", "Your subscription continues."),
    "toast_language": NC_("portal", "The portal is now in English."),
    "payment_method": NC_("portal", "Payment method"),
    "card_ending": NC_("portal", "%(brand)s ending in %(last4)s"),
    "expires": NC_("portal", "expires %(exp)s"),
    "expired": NC_("portal", "expired %(exp)s"),
    "no_card": NC_("portal", "No card on file."),
    "edit_payment_method": NC_("portal", "Edit payment method"),
    "card_number": NC_("portal", "Card number"),
    "expiry": NC_("portal", "Expiry (MM/YY)"),
    "cvc": NC_("portal", "Security code (CVC)"),
    "save_card": NC_("portal", "Save card"),
    "card_saved": NC_("portal", "Your new card is saved."),
    "processor_unavailable": NC_("portal", "We couldn't reach the payment processor. Please try again."),
    "service_unavailable": NC_(
        "portal", "We can't reach our records right now. Nothing was changed. Please try again in a minute."
    ),
    "approve_payment_body": NC_(
        "portal", "Your bank asks you to approve the payment of %(amount)s for invoice %(number)s."
    ),
    "approve_payment": NC_("portal", "Approve payment"),
    "payment_not_completed": NC_("portal", "The payment is not complete yet. Please try again, or update your card."),
    "card_saved_paid": NC_("portal", "Payment of %(amount)s succeeded — your subscription is active again."),
    "cancel": NC_("portal", "Cancel"),
    "test_cards_hint": NC_("portal", "Test mode: use 4242 4242 4242 4242, any future date and any 3 digits."),
    "threeds_title": NC_("portal", "Confirm with your bank"),
    "threeds_body": NC_("portal", "Your bank asks you to confirm this card. (Simulated bank page: test mode.)"),
    "threeds_complete": NC_("portal", "Complete authentication"),
    "threeds_fail": NC_("portal", "Fail authentication"),
    "cancel_subscription": NC_("portal", "Cancel subscription"),
    "cancel_not_allowed": NC_(
        "portal", "Your plan can't be canceled here. Please contact %(merchant)s to make changes."
    ),
    "cancel_title": NC_("portal", "Cancel your subscription?"),
    "cancel_at_period_end": NC_("portal", "You keep access until %(date)s. You can undo this until then."),
    "cancel_immediately": NC_("portal", "Your access ends now."),
    "cancel_reason": NC_("portal", "Why are you canceling? (optional)"),
    "reason_too_expensive": NC_("portal", "Too expensive"),
    "reason_not_using": NC_("portal", "I'm not using it"),
    "reason_missing_features": NC_("portal", "Missing features"),
    "reason_switching": NC_("portal", "Switching to another service"),
    "reason_other": NC_("portal", "Other"),
    "reason_details": NC_("portal", "Tell us more (optional)"),
    "keep_subscription": NC_("portal", "Keep subscription"),
    "confirm_cancel": NC_("portal", "Cancel subscription"),
    "undo_cancel": NC_("portal", "Undo cancellation"),
    "invoices": NC_("portal", "Invoice history"),
    "date": NC_("portal", "Date"),
    "number": NC_("portal", "Number"),
    "amount": NC_("portal", "Amount"),
    "download_pdf": NC_("portal", "Download PDF of invoice %(number)s"),
    "download_credit_note_pdf": NC_("portal", "Download PDF of credit note %(number)s (refund of invoice %(invoice)s)"),
    "download_year": NC_("portal", "Download all %(year)s invoices (%(count)s)"),
    "download_all": NC_("portal", "Download all (%(count)s)"),
    "download_year_aria": NC_("portal", "Download all (%(count)s): the %(year)s invoices"),
    "no_invoices": NC_("portal", "No invoices yet."),
    "billing_details": NC_("portal", "Billing details"),
    "billing_name": NC_("portal", "Name on invoices"),
    "billing_address": NC_("portal", "Address"),
    "tax_id": NC_("portal", "Tax ID"),
    "save": NC_("portal", "Save"),
    "saved": NC_("portal", "Saved. Your next invoices will use these details."),
    "language": NC_("portal", "Language"),
    "test_mode": NC_("portal", "Test mode — no real money moves"),
    "return_to": NC_("portal", "Return to %(merchant)s"),
    "s_active": NC_("portal", "Active"),
    "s_trialing": NC_("portal", "Trial"),
    "s_paused": NC_("portal", "Paused"),
    "s_past_due": NC_("portal", "Past due"),
    "s_unpaid": NC_("portal", "Unpaid"),
    "s_canceled": NC_("portal", "Canceled"),
    "s_incomplete": NC_("portal", "Incomplete"),
    "s_paid": NC_("portal", "Paid"),
    "s_credit_note": NC_("portal", "Refund"),
    "s_open": NC_("portal", "Open"),
    "s_void": NC_("portal", "Void"),
    "s_uncollectible": NC_("portal", "Uncollectible"),
    "s_draft": NC_("portal", "Draft"),
    "s_canceling": NC_("portal", "Cancels at period end"),
}
PORTAL_TEXT |= LIFECYCLE_TEXT  # pausing and trials
PORTAL_TEXT |= RETENTION_STEP_UP_TEXT
