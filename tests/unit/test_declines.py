"""Decline codes map to advice, and every advice has its words (until the i18n catalogue takes over)."""

from __future__ import annotations

from portal_app.billing.gateways.base import GENERIC_DECLINE, HARD_DECLINE_CODES, decline_code_of, is_hard_decline
from portal_app.billing.payments.declines import (
    ENGLISH_ADVICE,
    NO_PAYMENT_METHOD,
    DeclineAdvice,
    decline_advice,
    decline_message,
)


def test_every_advice_has_english_words():
    assert set(ENGLISH_ADVICE) == set(DeclineAdvice)
    assert all(text.strip() for text in ENGLISH_ADVICE.values())


def test_codes_map_to_their_advice_and_unknown_codes_to_a_bank_decline():
    assert decline_advice("lost_card") is DeclineAdvice.USE_ANOTHER_CARD
    assert decline_advice(NO_PAYMENT_METHOD) is DeclineAdvice.NO_CARD
    assert decline_advice("resource_missing") is DeclineAdvice.SAVED_CARD_GONE
    assert decline_advice("") is decline_advice("something_new") is DeclineAdvice.CHECK_BANK
    assert decline_message(NO_PAYMENT_METHOD) != decline_message("resource_missing")


def test_hard_declines_are_never_retried_and_card_declined_is_generic():
    assert {"lost_card", "stolen_card", "resource_missing"} <= HARD_DECLINE_CODES
    assert not {GENERIC_DECLINE, "do_not_honor", "insufficient_funds", "expired_card"} & HARD_DECLINE_CODES
    assert is_hard_decline("insufficient_funds", advice_code="do_not_try_again")
    assert not is_hard_decline("insufficient_funds")
    assert decline_code_of("card_declined") == decline_code_of("") == GENERIC_DECLINE
    assert decline_code_of("expired_card") == "expired_card"
