"""The simulated gateway's test cards: Stripe's documented test numbers, what each does, how its
tokenizer checks a card (like Stripe does: number, expiry, CVC, then test mode), and the gateway's messages.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import UTC, datetime
from types import MappingProxyType

from portal_app import i18n
from portal_app.billing.card_numbers import luhn_valid
from portal_app.billing.gateways.base import GENERIC_DECLINE, SetupOutcome, SetupResult

# --------------------------------------------------------------------------- test cards


@dataclasses.dataclass(frozen=True)
class CardBehaviour:
    """What a test card does. Declines use Stripe's decline_code names."""

    description: str
    attach_decline: str = ""  # decline_code when saving the card; "" = the card saves
    charge_decline: str = ""  # decline_code on every off-session charge
    setup_needs_3ds: bool = False  # saving the card needs the customer's 3DS challenge
    charge_needs_3ds: bool = False  # every off-session charge needs 3DS (authentication_required)


# Keyed by a tag, not by number: tokens and stored cards keep the tag, so no number survives tokenizing.
BEHAVIOURS: dict[str, CardBehaviour] = {
    "succeeds": CardBehaviour("succeeds"),
    "generic_decline": CardBehaviour("declined (generic decline)", attach_decline="generic_decline"),
    "insufficient_funds": CardBehaviour("declined (insufficient funds)", attach_decline="insufficient_funds"),
    "expired_card": CardBehaviour("declined (expired card)", attach_decline="expired_card"),
    "incorrect_cvc": CardBehaviour("declined (incorrect CVC)", attach_decline="incorrect_cvc"),
    "lost_card": CardBehaviour(
        "declined (lost card, hard decline)", attach_decline="lost_card", charge_decline="lost_card"
    ),
    "stolen_card": CardBehaviour(
        "declined (stolen card, hard decline)", attach_decline="stolen_card", charge_decline="stolen_card"
    ),
    "charge_declines": CardBehaviour("saves, but every charge is declined", charge_decline="generic_decline"),
    "3ds_once": CardBehaviour("asks for 3D Secure when saved; later charges succeed", setup_needs_3ds=True),
    "3ds_always": CardBehaviour(
        "asks for 3D Secure when saved and on every charge", setup_needs_3ds=True, charge_needs_3ds=True
    ),
}

_TEST_CARD_TAGS: dict[str, str] = {
    "4242424242424242": "succeeds",
    "4000056655665556": "succeeds",
    "5555555555554444": "succeeds",
    "378282246310005": "succeeds",
    "4000000000000002": "generic_decline",
    "4000000000009995": "insufficient_funds",
    "4000000000000069": "expired_card",
    "4000000000000127": "incorrect_cvc",
    "4000000000009987": "lost_card",
    "4000000000009979": "stolen_card",
    "4000000000000341": "charge_declines",
    "4000002500003155": "3ds_once",
    "4000002760003184": "3ds_always",
}

_BRAND_LABELS = {"visa": "Visa", "mastercard": "Mastercard", "amex": "American Express"}
_DEBIT = {"4000056655665556"}


def _describe(number: str) -> str:
    brand = _BRAND_LABELS.get(brand_of(number), "Card")
    if number in _DEBIT:
        brand += " debit"
    return f"{brand}: {BEHAVIOURS[_TEST_CARD_TAGS[number]].description}"


def format_test_card(number: str) -> str:
    """Digits grouped as embossed, for help text: 4242 4242 4242 4242, or 4-6-5 for American Express."""
    if brand_of(number) == "amex" and len(number) == 15:
        return f"{number[:4]} {number[4:10]} {number[10:]}"
    return " ".join(number[i : i + 4] for i in range(0, len(number), 4))


# --------------------------------------------------------------------------- messages


def gateway_message(decline_code: str) -> str:
    """The gateway's own English message, as Stripe words it (lost/stolen masked as a plain decline)."""
    return i18n.card_error(decline_code or GENERIC_DECLINE, "en")


# --------------------------------------------------------------------------- card checks


def brand_of(number: str) -> str:
    """The card network from the number's prefix (IIN ranges)."""
    if number.startswith("4"):
        return "visa"
    if number[:2] in {"34", "37"}:
        return "amex"
    if "51" <= number[:2] <= "55" or "2221" <= number[:4] <= "2720":
        return "mastercard"
    if number.startswith(("6011", "65")) or "644" <= number[:3] <= "649":
        return "discover"
    return "unknown"


@dataclasses.dataclass(frozen=True)
class CheckedCard:
    """A card that passed validation: everything we may keep, plus its behaviour tag."""

    behaviour: str
    brand: str
    last4: str
    exp_month: int
    exp_year: int


@dataclasses.dataclass(frozen=True)
class CardRefusal:
    """Stripe's card_error for card details it will not accept: code, the parameter at fault, its
    English message (decline_code only for declines, e.g. test_mode_live_card)."""

    code: str
    param: str
    message: str
    decline_code: str = ""


def _refusal(code: str, param: str, decline_code: str = "") -> CardRefusal:
    return CardRefusal(code, param, gateway_message(decline_code or code), decline_code)


def _check_expiry(month_text: str, year_text: str, today: datetime) -> tuple[int, int] | CardRefusal:
    """(month, 4-digit year), or Stripe's refusal when the expiry is malformed or past."""
    if not (month_text.isascii() and month_text.isdigit() and 1 <= int(month_text) <= 12):
        return _refusal("invalid_expiry_month", "exp_month")
    if not (year_text.isascii() and year_text.isdigit() and len(year_text) in (2, 4)):
        return _refusal("invalid_expiry_year", "exp_year")
    month, year = int(month_text), int(year_text)
    if len(year_text) == 2:
        year += 2000
    # A card is good through the last day of its expiry month.
    if year < today.year or year > today.year + 50:
        return _refusal("invalid_expiry_year", "exp_year")
    if (year, month) < (today.year, today.month):
        return _refusal("invalid_expiry_month", "exp_month")
    return month, year


def check_card(card: Mapping[str, object], *, now: datetime | None = None) -> CheckedCard | CardRefusal:
    """Validate like Stripe does (number, expiry, CVC, then test mode) without keeping the number."""
    if not isinstance(card, Mapping):
        raise TypeError("card must be a mapping with number, exp_month, exp_year, cvc")
    number = str(card.get("number", "") or "").replace(" ", "").replace("-", "").strip()
    if not (number.isdigit() and number.isascii() and 13 <= len(number) <= 19 and luhn_valid(number)):
        return _refusal("incorrect_number", "number")
    expiry = _check_expiry(
        str(card.get("exp_month", "") or "").strip(),
        str(card.get("exp_year", "") or "").strip(),
        now or datetime.now(UTC),
    )
    if isinstance(expiry, CardRefusal):
        return expiry
    brand = brand_of(number)
    cvc = str(card.get("cvc", "") or "").strip()
    if not (cvc.isdigit() and cvc.isascii() and len(cvc) == (4 if brand == "amex" else 3)):
        return _refusal("invalid_cvc", "cvc")
    tag = _TEST_CARD_TAGS.get(number)
    if tag is None:
        return _refusal("card_declined", "number", decline_code="test_mode_live_card")
    return CheckedCard(tag, brand, number[-4:], expiry[0], expiry[1])


def setup_declined(decline_code: str, message: str = "") -> SetupResult:
    return SetupResult(
        SetupOutcome.DECLINED, decline_code=decline_code, message=message or gateway_message(decline_code)
    )


BEHAVIOUR_CODES = {
    "succeeds": "S",
    "generic_decline": "G",
    "insufficient_funds": "I",
    "expired_card": "E",
    "incorrect_cvc": "C",
    "lost_card": "L",
    "stolen_card": "T",
    "charge_declines": "D",
    "3ds_once": "O",
    "3ds_always": "A",
}
CODE_BEHAVIOURS = {code: tag for tag, code in BEHAVIOUR_CODES.items()}


TEST_CARDS: Mapping[str, str] = MappingProxyType({number: _describe(number) for number in _TEST_CARD_TAGS})
"""Stripe's test card numbers this gateway accepts -> one-line description, for the UI help text."""
