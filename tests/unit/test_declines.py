"""Decline facts shared by both gateways, and the engine's own codes worded at the edge."""

from __future__ import annotations

from portal_app import i18n
from portal_app.billing.gateways.base import GENERIC_DECLINE, HARD_DECLINE_CODES, decline_code_of, is_hard_decline
from portal_app.billing.payments.declines import CARD_GONE, NEVER_REACHED, NO_PAYMENT_METHOD


def test_the_engines_own_codes_have_their_own_words_in_both_languages():
    for lang in ("en", "es"):
        texts = {i18n.decline_message(code, lang) for code in (NO_PAYMENT_METHOD, CARD_GONE, NEVER_REACHED)}
        assert len(texts) == 3 and i18n.decline_message("", lang) not in texts


def test_hard_declines_are_never_retried_and_card_declined_is_generic():
    assert {"lost_card", "stolen_card", "resource_missing"} <= HARD_DECLINE_CODES
    assert not {GENERIC_DECLINE, "do_not_honor", "insufficient_funds", "expired_card"} & HARD_DECLINE_CODES
    assert is_hard_decline("insufficient_funds", advice_code="do_not_try_again")
    assert not is_hard_decline("insufficient_funds")
    assert decline_code_of("card_declined") == decline_code_of("") == GENERIC_DECLINE
    assert decline_code_of("expired_card") == "expired_card"
