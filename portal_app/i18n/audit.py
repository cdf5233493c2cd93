"""Titles of audit events on the console's subscriber timeline, by event kind."""

from __future__ import annotations

from portal_app.i18n.catalogue import NC_

AUDIT = "audit"  # msgctxt

AUDIT_TITLES: dict[str, str] = {
    "subscriber_registered": NC_("audit", "Registered in the console"),
    "subscription_started": NC_("audit", "Subscription started"),
    "subscription_canceled": NC_("audit", "Subscription canceled"),
    "cancellation_undone": NC_("audit", "Cancellation undone"),
    "subscription_deleted": NC_("audit", "Subscription deleted"),
    "subscription_reactivated": NC_("audit", "Subscription active again"),
    "subscription_activated": NC_("audit", "Subscription active: first invoice paid"),
    "payment_method_updated": NC_("audit", "Card changed"),
    "card_refused": NC_("audit", "Card refused at registration"),
    "portal_visit": NC_("audit", "Opened the portal"),
    "billing_details_updated": NC_("audit", "Billing details updated"),
    "portal_link_regenerated": NC_("audit", "Portal link regenerated (old link revoked)"),
    "invitation_sent": NC_("audit", "Invitation sent from the console"),
    "email_resent": NC_("audit", "Failed email resent from the console"),
    "invoice_marked_paid": NC_("audit", "Invoice marked paid"),
    "invoice_voided": NC_("audit", "Invoice voided"),
    "invoice_uncollectible": NC_("audit", "Invoice marked uncollectible"),
    "plan_changed": NC_("audit", "Plan changed"),
    "plan_change_scheduled": NC_("audit", "Plan change scheduled for the period end"),
    "plan_change_undone": NC_("audit", "Scheduled plan change undone"),
    "retention_offer_shown": NC_("audit", "Retention offer shown on the way to cancelling"),
    "retention_offer_accepted": NC_("audit", "Retention offer accepted: discount on the next invoices"),
    "retention_offer_declined": NC_("audit", "Retention offer declined"),
    "step_up_code_sent": NC_("audit", "Verification code emailed"),
    "step_up_verified": NC_("audit", "Verification code entered: changes allowed for 10 minutes"),
    "step_up_failed": NC_("audit", "Wrong verification code entered"),
    "refund_requested": NC_("audit", "Refund requested"),
    "refund_succeeded": NC_("audit", "Refunded: credit note issued"),
    "refund_failed": NC_("audit", "Refund failed"),
    "refund_unknown": NC_("audit", "Refund sent, awaiting the payment provider's answer"),
    "payment_needs_review": NC_(
        "audit", "Payment needs review: its outcome is unknown, nothing is charged automatically"
    ),
}
