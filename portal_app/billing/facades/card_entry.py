"""What the browser may hand us for a card, for every form that takes one (portal card form, console
registration): a tokenized id only, from the simulated gateway's tokenizer or Stripe Elements; and
the words for the tokenizer's refusals (Stripe's codes, worded in the customer's language)."""

from __future__ import annotations

import re

from portal_app import i18n
from portal_app.billing.errors import BillingError

# pm_ from either gateway's card component, seti_ from Stripe Elements; fullmatch, never match.
CARD_ID = re.compile(r"(pm|seti)_[A-Za-z0-9]{1,100}")
CARD_REFERENCE_KEYS = frozenset({"payment_method", "setup_intent", "stripe_id"})
# The tokenizer's param -> the card form's field that shows its inline error.
_FIELD_OF_PARAM = {"number": "number", "exp_month": "expiry", "exp_year": "expiry", "cvc": "cvc"}
_TOKENIZER_CODES = frozenset(
    {"incorrect_number", "invalid_expiry_month", "invalid_expiry_year", "invalid_cvc", "card_declined", "rate_limit"}
)


class CardInputError(BillingError):
    code = "invalid_card_input"


def card_reference(form: object, *, other_fields: frozenset[str] = frozenset()) -> dict[str, str]:
    """The tokenized card a form carries: {"payment_method": "pm_..."} or {"setup_intent": "seti_..."}.

    Card data beside the id (number, cvc, exp_*), or any field the form does not have, is refused,
    never dropped: a client that sends card numbers finds out. A bare id string is accepted too.
    """
    if isinstance(form, str):
        form = {"payment_method" if form.startswith("pm_") else "setup_intent": form}
    if not isinstance(form, dict):
        raise CardInputError("Invalid card details.")
    if set(form) - CARD_REFERENCE_KEYS - other_fields:
        raise CardInputError("Card details are accepted only from the secure card form.")
    refs = [(key, form[key]) for key in sorted(CARD_REFERENCE_KEYS) if key in form]
    if len(refs) != 1:
        raise CardInputError("Please enter the card in the card form.", field="number")
    key, ref = refs[0]
    if not isinstance(ref, str) or not CARD_ID.fullmatch(ref):
        raise CardInputError("Invalid card reference.")
    if key == "stripe_id":
        key = "payment_method" if ref.startswith("pm_") else "setup_intent"
    if (key == "payment_method") != ref.startswith("pm_"):
        raise CardInputError("Invalid card reference.")
    return {key: ref}


def card_refusal(error: object, lang: str) -> tuple[str, str]:
    """(form field or "", text) for the tokenizer's refusal {"code", "param", "decline_code"} the browser relays.
    Only known codes are worded as such; anything else reads as "the processor is unavailable"."""
    code = error.get("code") if isinstance(error, dict) else None
    param = error.get("param") if isinstance(error, dict) else None
    if not isinstance(code, str) or code not in _TOKENIZER_CODES:
        return "", i18n.t(lang, "processor_unavailable")
    if code == "card_declined" and error.get("decline_code") == "test_mode_live_card":
        code = "test_mode_live_card"  # a real card in test mode: say which cards work
    field = _FIELD_OF_PARAM.get(param, "") if isinstance(param, str) else ""
    return field, i18n.card_error(code, lang)
