"""The portal's texts for retention offers (pages/portal/retention.py) and step-up verification
(pages/portal/step_up.py), joined into PORTAL_TEXT by portal_text.py."""

from __future__ import annotations

from portal_app.i18n.catalogue import NC_

RETENTION_STEP_UP_TEXT: dict[str, str] = {
    "offer_title_many": NC_("portal", "Before you go: %(discount)s off your next %(count)s invoices"),
    "offer_title_one": NC_("portal", "Before you go: %(discount)s off your next invoice"),
    "offer_body_many": NC_("portal", "Stay, and your next %(count)s invoices are %(amount)s instead of %(price)s."),
    "offer_body_one": NC_("portal", "Stay, and your next invoice is %(amount)s instead of %(price)s."),
    "offer_accept": NC_("portal", "Accept offer"),
    "offer_decline": NC_("portal", "No thanks, cancel"),
    "toast_offer_accepted": NC_("portal", "Thank you for staying. Your discount applies from your next invoice."),
    "step_up_title": NC_("portal", "Confirm it's you"),
    "step_up_why": NC_("portal", "For your security, changes to your card or subscription need a code we email you."),
    "step_up_sent": NC_("portal", "We sent a 6-digit code to %(email)s."),
    "step_up_code": NC_("portal", "6-digit code"),
    "step_up_verify": NC_("portal", "Verify"),
    "step_up_resend": NC_("portal", "Send a new code"),
}
