"""Decline codes the engine itself produces, and the advice each decline code calls for.

Codes are Stripe's `decline_code` names (the gateways report those). The domain hands codes on;
the words a customer reads are chosen at the edge from `decline_advice(code)`.
"""

from __future__ import annotations

from enum import StrEnum

from portal_app.billing.gateways.base import GENERIC_DECLINE

# Codes of the engine's own making (no gateway said them).
NO_PAYMENT_METHOD = "no_payment_method"  # nothing to charge: soft, dunning waits for a card
NEVER_REACHED = "processing_error"  # the gateway never saw the attempt: nothing was charged
AUTHENTICATION_REQUIRED = "authentication_required"  # default code of a REQUIRES_ACTION answer
CARD_GONE = "resource_missing"  # the gateway lost the customer or the card


class DeclineAdvice(StrEnum):
    """What the customer should do about a decline: one advice per group of codes."""

    CHECK_BANK = "check_bank"
    INSUFFICIENT_FUNDS = "insufficient_funds"
    EXPIRED_CARD = "expired_card"
    SECURITY_CODE = "security_code"
    CARD_NUMBER = "card_number"
    EXPIRY_DATE = "expiry_date"
    USE_ANOTHER_CARD = "use_another_card"
    TEST_CARD_NEEDED = "test_card_needed"
    AUTHENTICATE = "authenticate"
    AUTHENTICATION_FAILED = "authentication_failed"
    SAVED_CARD_GONE = "saved_card_gone"
    NO_CARD = "no_card"
    TRY_LATER = "try_later"


_ADVICE_OF: dict[str, DeclineAdvice] = {
    "insufficient_funds": DeclineAdvice.INSUFFICIENT_FUNDS,
    GENERIC_DECLINE: DeclineAdvice.CHECK_BANK,
    "do_not_honor": DeclineAdvice.CHECK_BANK,
    "card_declined": DeclineAdvice.CHECK_BANK,
    "expired_card": DeclineAdvice.EXPIRED_CARD,
    "incorrect_cvc": DeclineAdvice.SECURITY_CODE,
    "invalid_cvc": DeclineAdvice.SECURITY_CODE,
    "incorrect_number": DeclineAdvice.CARD_NUMBER,
    "invalid_expiry": DeclineAdvice.EXPIRY_DATE,
    "lost_card": DeclineAdvice.USE_ANOTHER_CARD,
    "stolen_card": DeclineAdvice.USE_ANOTHER_CARD,
    "pickup_card": DeclineAdvice.USE_ANOTHER_CARD,
    "restricted_card": DeclineAdvice.USE_ANOTHER_CARD,
    "fraudulent": DeclineAdvice.USE_ANOTHER_CARD,
    "do_not_try_again": DeclineAdvice.USE_ANOTHER_CARD,
    "test_mode_live_card": DeclineAdvice.TEST_CARD_NEEDED,
    AUTHENTICATION_REQUIRED: DeclineAdvice.AUTHENTICATE,
    "authentication_failed": DeclineAdvice.AUTHENTICATION_FAILED,
    CARD_GONE: DeclineAdvice.SAVED_CARD_GONE,
    NO_PAYMENT_METHOD: DeclineAdvice.NO_CARD,
    NEVER_REACHED: DeclineAdvice.TRY_LATER,
}


def decline_advice(decline_code: str) -> DeclineAdvice:
    """The advice for a decline code; codes we do not know read as a plain bank decline."""
    return _ADVICE_OF.get(decline_code or "", DeclineAdvice.CHECK_BANK)


# English only, until the i18n catalogue replaces this table (keyed by DeclineAdvice) at the edges.
_CHECK_BANK = "Your bank declined the payment. Please check with your bank, or use another card."
ENGLISH_ADVICE: dict[DeclineAdvice, str] = {
    DeclineAdvice.CHECK_BANK: _CHECK_BANK,
    DeclineAdvice.INSUFFICIENT_FUNDS: "Your bank declined the payment for insufficient funds. "
    "Please check with your bank, or use another card.",
    DeclineAdvice.EXPIRED_CARD: "Your card has expired. Please use another card.",
    DeclineAdvice.SECURITY_CODE: "Your card's security code was rejected. Please use another card.",
    DeclineAdvice.CARD_NUMBER: "The card number is incorrect. Please check it, or use another card.",
    DeclineAdvice.EXPIRY_DATE: "The card's expiry date is invalid. Please check it, or use another card.",
    DeclineAdvice.USE_ANOTHER_CARD: "This card can't be used. Please use another card.",
    DeclineAdvice.TEST_CARD_NEEDED: "This is test mode: use a test card such as 4242 4242 4242 4242.",
    DeclineAdvice.AUTHENTICATE: "Your bank asks you to confirm this payment. "
    "Please enter your card again and approve it with your bank.",
    DeclineAdvice.AUTHENTICATION_FAILED: "Your bank could not confirm the card. Please try again, or use another card.",
    DeclineAdvice.SAVED_CARD_GONE: "Your saved card is no longer available. Please add a card.",
    DeclineAdvice.NO_CARD: "There is no card on file. Please add a card.",
    DeclineAdvice.TRY_LATER: "The payment could not be processed. Please try again in a little while.",
}


def decline_message(decline_code: str) -> str:
    """English text for a decline code (callers move to the i18n catalogue)."""
    return ENGLISH_ADVICE[decline_advice(decline_code)]
