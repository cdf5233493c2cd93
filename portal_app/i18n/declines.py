"""Decline codes (Stripe's names) to customer text, in three voices: the portal's message, the
reason an email gives, and the card error a gateway reports. Lost, stolen and fraud codes read like
any unusable card: the customer is never accused of anything."""

from __future__ import annotations

from portal_app.i18n.catalogue import NC_

DECLINE = "decline"  # msgctxt: what the portal shows after a failed payment or card check
DECLINE_REASON = "decline reason"  # msgctxt: why a payment failed, in a payment_failed email
CARD_ERROR = "card error"  # msgctxt: the gateway's own message (the simulated gateway speaks like Stripe)

CHECK_BANK = NC_("decline", "Your bank declined the payment. Please check with your bank, or use another card.")
USE_ANOTHER = NC_("decline", "This card can't be used. Please use another card.")
DECLINE_MESSAGES: dict[str, str] = {
    "insufficient_funds": NC_(
        "decline",
        "Your bank declined the payment for insufficient funds. Please check with your bank, or use another card.",
    ),
    "generic_decline": CHECK_BANK,
    "do_not_honor": CHECK_BANK,
    "card_declined": CHECK_BANK,
    "expired_card": NC_("decline", "Your card has expired. Please use another card."),
    "incorrect_cvc": NC_("decline", "Your card's security code was rejected. Please use another card."),
    "invalid_cvc": NC_("decline", "Your card's security code was rejected. Please use another card."),
    "incorrect_number": NC_("decline", "The card number is incorrect. Please check it, or use another card."),
    "invalid_expiry": NC_("decline", "The card's expiry date is invalid. Please check it, or use another card."),
    "lost_card": USE_ANOTHER,
    "stolen_card": USE_ANOTHER,
    "pickup_card": USE_ANOTHER,
    "restricted_card": USE_ANOTHER,
    "fraudulent": USE_ANOTHER,
    "do_not_try_again": USE_ANOTHER,
    "test_mode_live_card": NC_("decline", "This is test mode: use a test card such as 4242 4242 4242 4242."),
    "authentication_required": NC_(
        "decline",
        "Your bank asks you to confirm this payment. Please enter your card again and approve it with your bank.",
    ),
    "authentication_failed": NC_(
        "decline", "Your bank could not confirm the card. Please try again, or use another card."
    ),
    "resource_missing": NC_("decline", "Your saved card is no longer available. Please add a card."),
    "no_payment_method": NC_("decline", "There is no card on file. Please add a card."),
    "processing_error": NC_("decline", "The payment could not be processed. Please try again in a little while."),
}

DECLINE_REASONS: dict[str, str] = {
    "": NC_("decline reason", "Your bank declined the payment."),
    "insufficient_funds": NC_("decline reason", "Your bank declined the payment for insufficient funds."),
    "expired_card": NC_("decline reason", "Your card has expired."),
    "incorrect_cvc": NC_("decline reason", "Your card's security code was rejected."),
    "invalid_cvc": NC_("decline reason", "Your card's security code was rejected."),
    "incorrect_number": NC_("decline reason", "The card number was rejected."),
    "invalid_expiry": NC_("decline reason", "The card's expiry date is invalid."),
    "unusable": NC_("decline reason", "This card can no longer be used."),
    "authentication_required": NC_("decline reason", "Your bank asks you to confirm this payment."),
    "authentication_failed": NC_("decline reason", "Your bank could not confirm the payment."),
    "resource_missing": NC_("decline reason", "Your saved card is no longer available."),
    "no_payment_method": NC_("decline reason", "There is no card on file."),
    "processing_error": NC_("decline reason", "The payment could not be processed."),
    "card_velocity_exceeded": NC_("decline reason", "Your card has reached its spending limit."),
    "card_not_supported": NC_("decline reason", "Your card does not support this payment."),
    "test_mode_live_card": NC_("decline reason", "A real card was used in test mode."),
}
# Codes that share another code's reason.
REASON_ALIASES = {
    "lost_card": "unusable",
    "stolen_card": "unusable",
    "pickup_card": "unusable",
    "restricted_card": "unusable",
    "fraudulent": "unusable",
    "do_not_try_again": "unusable",
    "withdrawal_count_limit_exceeded": "card_velocity_exceeded",
    "currency_not_supported": "card_not_supported",
}

CARD_DECLINED = NC_("card error", "Your card was declined.")
CARD_ERRORS: dict[str, str] = {
    "generic_decline": CARD_DECLINED,
    "insufficient_funds": NC_("card error", "Your card has insufficient funds."),
    "expired_card": NC_("card error", "Your card has expired."),
    "incorrect_cvc": NC_("card error", "Your card's security code is incorrect."),
    "lost_card": CARD_DECLINED,
    "stolen_card": CARD_DECLINED,
    "do_not_honor": CARD_DECLINED,
    "processing_error": NC_("card error", "An error occurred while processing your card. Try again in a little bit."),
    "authentication_required": NC_("card error", "Your card was declined. This transaction requires authentication."),
    "authentication_failed": NC_(
        "card error",
        "We are unable to authenticate your payment method. Please choose a different payment method and try again.",
    ),
    "incorrect_number": NC_("card error", "Your card number is incorrect."),
    "invalid_cvc": NC_("card error", "Your card's security code is invalid."),
    "invalid_expiry_month": NC_("card error", "Your card's expiration month is invalid."),
    "invalid_expiry_year": NC_("card error", "Your card's expiration year is invalid."),
    "card_declined": CARD_DECLINED,
    "rate_limit": NC_("card error", "Too many card attempts. Please wait a minute and try again."),
    "test_mode_live_card": NC_(
        "card error", "Your card was declined. This is test mode: use a test card such as 4242 4242 4242 4242."
    ),
}
