"""Stripe's objects read as ours: fields of StripeObjects, cards, PaymentIntent results, amounts."""

from __future__ import annotations

import dataclasses
from typing import Any

from portal_app.billing.gateways.base import (
    CardDetails,
    ChargeOutcome,
    ChargeResult,
    decline_code_of,
    is_hard_decline,
)
from portal_app.billing.money import minor_digits, validate_currency

# Stripe's amount exponent differs from ISO 4217 for a few currencies (docs.stripe.com/currencies).
_STRIPE_ZERO_DECIMAL = frozenset(
    ["BIF", "CLP", "DJF", "GNF", "JPY", "KMF", "KRW", "MGA", "PYG", "RWF", "UGX", "VND", "VUV", "XAF", "XOF", "XPF"]
)
_STRIPE_THREE_DECIMAL = frozenset(["BHD", "JOD", "KWD", "OMR", "TND"])


_AUTH_REQUIRED = "authentication_required"


# --------------------------------------------------------------------------- amounts


def stripe_amount(amount_minor: int, currency: str) -> int:
    """ISO 4217 minor units -> the integer Stripe expects for `amount`.

    Stripe uses 2 decimals for every currency except its zero- and three-decimal lists, so a few
    currencies differ from ISO: ISK 5 kr is ISO 5 but Stripe 500. Refuses amounts Stripe cannot
    represent (three-decimal currencies must end in 0) instead of silently rounding money.
    """
    currency = validate_currency(currency)
    if currency in _STRIPE_ZERO_DECIMAL:
        stripe_digits = 0
    elif currency in _STRIPE_THREE_DECIMAL:
        stripe_digits = 3
    else:
        stripe_digits = 2
    shift = stripe_digits - minor_digits(currency)
    if shift >= 0:
        amount = amount_minor * 10**shift
    else:
        amount, rest = divmod(amount_minor, 10**-shift)
        if rest:
            raise ValueError(f"{amount_minor} minor units of {currency} cannot be charged through Stripe")
    if stripe_digits == 3 and amount % 10:
        raise ValueError(f"Stripe needs {currency} amounts rounded to 10 (got {amount})")
    return amount


def _stripe_digits(currency: str) -> int:
    if currency in _STRIPE_ZERO_DECIMAL:
        return 0
    return 3 if currency in _STRIPE_THREE_DECIMAL else 2


def minor_from_stripe_amount(amount: int, currency: str) -> int | None:
    """Stripe's `amount` -> ISO 4217 minor units (the inverse of stripe_amount); None if it does not map."""
    try:
        currency = validate_currency(currency)
    except ValueError:
        return None
    shift = _stripe_digits(currency) - minor_digits(currency)
    if shift <= 0:
        return amount * 10**-shift
    minor, rest = divmod(amount, 10**shift)
    return None if rest else minor


# --------------------------------------------------------------------------- StripeObject access


def stripe_field(obj: Any, name: str, default: Any = None) -> Any:
    """A field of a StripeObject (SDK 16 objects are not dicts), or default when absent or null."""
    if obj is None:
        return default
    try:
        value = obj[name]
    except (KeyError, TypeError):
        return default
    return default if value is None else value


def id_of(value: Any) -> str:
    """The id of an expandable field: either the id string or the expanded object."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return str(stripe_field(value, "id", ""))


def card_of(payment_method: Any) -> CardDetails | None:
    """What we may keep about a card PaymentMethod (brand, last4, expiry), or None if not a card."""
    card = stripe_field(payment_method, "card")
    if stripe_field(payment_method, "type") != "card" or card is None:
        return None
    return CardDetails(
        gateway_ref=id_of(payment_method),
        brand=str(stripe_field(card, "brand", "unknown")),
        last4=str(stripe_field(card, "last4", "")),
        exp_month=int(stripe_field(card, "exp_month", 0)),
        exp_year=int(stripe_field(card, "exp_year", 0)),
    )


def decline_from_error(error: Any, gateway_ref: str, fallback_message: str = "") -> ChargeResult:
    """A Stripe error object (CardError.error or last_payment_error) as a ChargeResult."""
    code = str(stripe_field(error, "code", ""))
    decline_code = decline_code_of(str(stripe_field(error, "decline_code", "")) or code)
    message = str(stripe_field(error, "message", "")) or fallback_message
    if code == _AUTH_REQUIRED or decline_code == _AUTH_REQUIRED:
        return ChargeResult(
            ChargeOutcome.REQUIRES_ACTION, gateway_ref=gateway_ref, decline_code=_AUTH_REQUIRED, message=message
        )
    return ChargeResult(
        ChargeOutcome.DECLINED,
        gateway_ref=gateway_ref,
        decline_code=decline_code,
        message=message,
        hard=is_hard_decline(decline_code, str(stripe_field(error, "advice_code", ""))),
    )


def charge_result_from_intent(intent: Any) -> ChargeResult:
    """Map a PaymentIntent's current state to a ChargeResult (charge, lookup and webhooks agree).

    processing / requires_confirmation / requires_capture are not final for us: ERROR (unknown yet).
    """
    pi_id = id_of(intent)
    status = stripe_field(intent, "status", "")
    error = stripe_field(intent, "last_payment_error")
    currency = str(stripe_field(intent, "currency", "")).upper()
    amount = stripe_field(intent, "amount")
    facts = {
        "amount_minor": minor_from_stripe_amount(int(amount), currency) if isinstance(amount, int) else None,
        "currency": currency,
        "customer_ref": id_of(stripe_field(intent, "customer")),
    }
    return dataclasses.replace(_intent_outcome(intent, pi_id, status, error), **facts)


def _intent_outcome(intent: Any, pi_id: str, status: str, error: Any) -> ChargeResult:
    if status == "succeeded":
        return ChargeResult(ChargeOutcome.SUCCEEDED, gateway_ref=pi_id)
    if status == "requires_action":
        redirect = stripe_field(stripe_field(intent, "next_action"), "redirect_to_url")
        return ChargeResult(
            ChargeOutcome.REQUIRES_ACTION,
            gateway_ref=pi_id,
            decline_code=_AUTH_REQUIRED,
            message=str(stripe_field(error, "message", "")) or "Your bank asks you to confirm this payment.",
            action_url=str(stripe_field(redirect, "url", "")),
        )
    if status in ("requires_payment_method", "canceled"):
        if error is not None:
            return decline_from_error(error, pi_id)
        return ChargeResult(
            ChargeOutcome.DECLINED, gateway_ref=pi_id, decline_code=status, message="The payment did not go through."
        )
    return ChargeResult(ChargeOutcome.ERROR, gateway_ref=pi_id, message=f"The payment is still {status or 'pending'}.")
