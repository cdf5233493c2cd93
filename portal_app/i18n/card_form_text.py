"""What the Stripe card form (assets/stripe_card.jsx) says when Stripe gives no message of its own.

Stripe.js words its own errors in the Elements locale; these are the fallbacks for the cases it
leaves to us. The portal's and the signup page's text dicts carry them (keys start with "stripe_"),
and the component reads them from its `messages` prop, so no English reaches a Spanish customer.
msgctxt "card form", formal Spanish.
"""

from __future__ import annotations

from portal_app.i18n.catalogue import NC_

CARD_FORM = "card form"

CARD_FORM_TEXT: dict[str, str] = {
    "stripe_not_saved": NC_("card form", "Your card could not be saved."),
    "stripe_checking": NC_("card form", "Your card is still being checked. Try again shortly."),
    "stripe_not_completed": NC_("card form", "Saving the card was not completed. Please enter your card again."),
    "stripe_load_failed": NC_("card form", "The payment could not be loaded."),
    "stripe_not_approved": NC_("card form", "Your bank did not approve the payment."),
    "stripe_not_complete": NC_("card form", "The payment is not complete yet. Please try again."),
}
