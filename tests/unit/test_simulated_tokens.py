"""The simulated gateway's tokenizer: pm_ ids that carry no card number, cannot be forged or kept
forever, and are the only card input its attach_card takes."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pytest

from portal_app.billing.gateways import simulated_tokens
from portal_app.billing.gateways.base import SetupOutcome
from portal_app.billing.gateways.simulated import SimulatedGateway
from portal_app.billing.gateways.simulated_cards import TEST_CARDS
from portal_app.billing.gateways.simulated_tokens import TOKEN_LIFETIME, read_card_token, tokenize_card

NEXT_YEAR = str(datetime.now(UTC).year + 1)


def typed(number: str = "4242424242424242", cvc: str = "123") -> dict[str, str]:
    return {"number": number, "exp_month": "7", "exp_year": NEXT_YEAR, "cvc": cvc}


@pytest.fixture
def gw():
    gateway = SimulatedGateway()
    gateway.reset()
    yield gateway
    gateway.reset()


def test_a_token_is_a_stripe_shaped_pm_id_that_reads_back_without_the_number():
    for number in TEST_CARDS:
        cvc = "1357" if number.startswith("37") else "135"  # digits no last4 holds
        token = tokenize_card(typed(number, cvc=cvc))
        assert token.id.startswith("pm_") and token.id[3:].isalnum() and len(token.id) <= 103
        decoded = base64.b32decode(token.id[3:])
        assert number.encode() not in decoded and number[:6].encode() not in decoded and cvc.encode() not in decoded
        assert number not in token.id and cvc not in repr(token)
        assert read_card_token(token.id) == token
        assert (token.last4, token.exp_month, token.exp_year) == (number[-4:], 7, int(NEXT_YEAR))


def test_forged_altered_or_foreign_tokens_read_as_nothing():
    token = tokenize_card(typed()).id
    flipped = token[:10] + ("A" if token[10] != "A" else "B") + token[11:]
    for bad in (flipped, token + "\n", token[:-1], "pm_abc", "pm_abc\n", "", None, 4242424242424242, token.lower()):
        assert read_card_token(bad) is None
    assert read_card_token(token, secret_key="another-deployment-secret-key-0123456789") is None


def test_a_token_lives_for_TOKEN_LIFETIME_only():
    stale = tokenize_card(typed()).id
    assert read_card_token(stale, now=datetime.now(UTC) + TOKEN_LIFETIME + timedelta(seconds=5)) is None
    assert read_card_token(stale, now=datetime.now(UTC) + TOKEN_LIFETIME - timedelta(seconds=5)) is not None
    assert read_card_token(stale, now=datetime.now(UTC) - timedelta(minutes=5)) is None  # issued "in the future"


def test_attach_card_takes_a_token_only(gw):
    customer = gw.create_customer(email="a@example.com", name="A", metadata={})
    token = tokenize_card(typed()).id
    for raw in (
        typed(),
        {"payment_method": token, "number": "4242424242424242"},
        {"payment_method": token, "cvc": "123"},
        {"setup_intent": "seti_123"},
        {"payment_method": "pm_sim_" + "x" * 21},
        {"payment_method": token + "\n"},
    ):
        with pytest.raises(ValueError):
            gw.attach_card(customer_ref=customer, card_input=raw)
    assert gw.cards_for(customer) == []
    result = gw.attach_card(customer_ref=customer, card_input={"payment_method": token})
    assert result.outcome is SetupOutcome.SUCCEEDED and (result.card.brand, result.card.last4) == ("visa", "4242")


def test_an_expired_token_is_refused_by_attach_card(gw):
    customer = gw.create_customer(email="a@example.com", name="A", metadata={})
    token = tokenize_card(typed(), now=datetime.now(UTC) - TOKEN_LIFETIME - timedelta(minutes=1)).id
    with pytest.raises(ValueError):
        gw.attach_card(customer_ref=customer, card_input={"payment_method": token})
    assert simulated_tokens.read_card_token(token) is None
