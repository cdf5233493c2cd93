"""The hosted signup page's text: the key the page asks for, and its English msgid in the catalogue.

Its own msgctxt, "signup": a stranger reading a merchant's offer is addressed formally ("usted")."""

from __future__ import annotations

from portal_app.i18n.catalogue import NC_

SIGNUP = "signup"

SIGNUP_TEXT: dict[str, str] = {
    "title": NC_("signup", "Subscribe to %(plan)s"),
    "price_day": NC_("signup", "%(amount)s per day"),
    "price_week": NC_("signup", "%(amount)s per week"),
    "price_month": NC_("signup", "%(amount)s per month"),
    "price_year": NC_("signup", "%(amount)s per year"),
    "price_days": NC_("signup", "%(amount)s every %(count)s days"),
    "price_weeks": NC_("signup", "%(amount)s every %(count)s weeks"),
    "price_months": NC_("signup", "%(amount)s every %(count)s months"),
    "price_years": NC_("signup", "%(amount)s every %(count)s years"),
    "charged_today": NC_("signup", "Your card is charged %(amount)s today and then each period until you cancel."),
    "trial_charged": NC_(
        "signup",
        "Free for %(days)s days: nothing is charged today. Then your card is charged %(amount)s each period "
        "until you cancel.",
    ),
    "name": NC_("signup", "Full name"),
    "email": NC_("signup", "Email"),
    "language": NC_("signup", "Language"),
    "card_number": NC_("signup", "Card number"),
    "expiry": NC_("signup", "Expiry (MM/YY)"),
    "cvc": NC_("signup", "Security code (CVC)"),
    "card": NC_("signup", "Card"),
    "subscribe": NC_("signup", "Subscribe"),
    "continue": NC_("signup", "Continue to payment"),
    "secure_note": NC_("signup", "Your card goes straight to our payment processor; its number never reaches us."),
    "test_mode": NC_("signup", "Test mode — no real money moves"),
    "test_cards_hint": NC_("signup", "Test mode: use card 4242 4242 4242 4242, any future date and any CVC."),
    "not_available_title": NC_("signup", "This page is not available"),
    "not_available_body": NC_(
        "signup", "This subscription is not offered here. Please contact the business that gave you the link."
    ),
    "check_email_title": NC_("signup", "Please check your email"),
    "check_email_body": NC_(
        "signup", "We have sent a message to %(email)s. Please open the link in it to reach your billing portal."
    ),
    "opening_portal": NC_("signup", "Thank you. Opening your billing portal…"),
    "rate_limited": NC_("signup", "There have been too many attempts. Please wait a few minutes and try again."),
    "name_required": NC_("signup", "Please enter your name."),
    "name_too_long": NC_("signup", "Please enter a name of at most %(max)s characters."),
    "email_invalid": NC_("signup", "Please enter a valid email address."),
    "language_invalid": NC_("signup", "Please choose English or Spanish."),
    "card_required": NC_("signup", "Please enter your card in the card form."),
    "card_form_only": NC_("signup", "Card details are accepted only from the secure card form."),
    "processor_unavailable": NC_("signup", "We could not reach the payment processor. Please try again."),
    "service_unavailable": NC_("signup", "We cannot reach our records right now. Please try again in a minute."),
    "threeds_title": NC_("signup", "Confirm with your bank"),
    "threeds_body": NC_("signup", "Your bank asks you to confirm this card (3D Secure)."),
    "threeds_complete": NC_("signup", "Confirm"),
    "threeds_fail": NC_("signup", "Cancel"),
}
