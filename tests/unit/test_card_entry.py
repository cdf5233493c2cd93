"""What a card form may send: a tokenized id only (pm_ from the simulated tokenizer or Stripe, seti_
from Elements). Card data beside an id is refused, never silently dropped; ids are fullmatched."""

from __future__ import annotations

import pytest

from portal_app import i18n
from portal_app.billing.facades.card_entry import CardInputError, card_reference, card_refusal

PM = "pm_AFJQANBSGQZAYB7ONMHY5YFEOGTI7VI6MBXO46DEBTD3K5WJ"


@pytest.mark.parametrize(
    ("form", "expected"),
    [
        ({"payment_method": PM}, {"payment_method": PM}),
        ({"stripe_id": "seti_123abc"}, {"setup_intent": "seti_123abc"}),
        ({"stripe_id": "pm_123abc"}, {"payment_method": "pm_123abc"}),
        ({"setup_intent": "seti_1"}, {"setup_intent": "seti_1"}),
        (PM, {"payment_method": PM}),
    ],
)
def test_ids_are_accepted(form, expected):
    assert card_reference(form) == expected


@pytest.mark.parametrize(
    "form",
    [
        {"stripe_id": "seti_123", "number": "4242424242424242"},
        {"payment_method": PM, "cvc": "123"},
        {"payment_method": PM, "exp_month": "12", "exp_year": "30"},
        {"payment_method": PM, "expiry": "12/30"},
        {"number": "4242 4242 4242 4242", "expiry": "12/30", "cvc": "123"},
        {"payment_method": "pm_abc\n"},
        {"stripe_id": "seti_abc\n"},
        {"payment_method": "seti_abc"},
        {"setup_intent": "pm_abc"},
        {"payment_method": PM, "setup_intent": "seti_1"},
        {"payment_method": 4242424242424242},
        {},
        "4242424242424242",
        None,
    ],
)
def test_anything_else_is_refused(form):
    with pytest.raises(CardInputError):
        card_reference(form)


def test_a_form_may_name_its_own_other_fields():
    form = {"name": "Ana", "payment_method": PM}
    assert card_reference(form, other_fields=frozenset({"name"})) == {"payment_method": PM}
    with pytest.raises(CardInputError):
        card_reference({**form, "number": "4242424242424242"}, other_fields=frozenset({"name"}))


@pytest.mark.parametrize(
    ("error", "field", "code"),
    [
        ({"code": "incorrect_number", "param": "number"}, "number", "incorrect_number"),
        ({"code": "invalid_expiry_month", "param": "exp_month"}, "expiry", "invalid_expiry_month"),
        ({"code": "invalid_expiry_year", "param": "exp_year"}, "expiry", "invalid_expiry_year"),
        ({"code": "invalid_cvc", "param": "cvc"}, "cvc", "invalid_cvc"),
        (
            {"code": "card_declined", "param": "number", "decline_code": "test_mode_live_card"},
            "number",
            "test_mode_live_card",
        ),
        ({"code": "rate_limit", "param": ""}, "", "rate_limit"),
    ],
)
def test_tokenizer_refusals_are_worded_in_the_customers_language(error, field, code):
    assert card_refusal(error, "es") == (field, i18n.card_error(code, "es"))


@pytest.mark.parametrize("error", [{"code": "<script>", "param": "number"}, "oops", None, {"code": ["x"]}])
def test_unknown_refusals_read_as_processor_unavailable(error):
    assert card_refusal(error, "en") == ("", i18n.t("en", "processor_unavailable"))
