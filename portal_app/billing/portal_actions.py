"""What a subscriber can do in the portal, as plain calls for the UI: each takes the session's
(merchant_id, subscriber_id), validates its input, picks the configured gateway and returns a
typed result. The UI never touches a gateway or a transaction."""

from __future__ import annotations

import re
from datetime import datetime

from portal_app.billing import subscribers, subscriptions
from portal_app.billing.errors import BillingError, NotFound
from portal_app.billing.gateways import get_gateway
from portal_app.billing.payments.card_updates import (
    CardUpdateResult,
    confirm_payment_method_setup,
    update_payment_method,
)
from portal_app.billing.portal_view import current_subscription
from portal_app.db import get_engine, session_scope
from portal_app.models import utcnow

CANCEL_REASONS = ("too_expensive", "not_using", "missing_features", "switching", "other")
_CARD_FIELDS = {"number": 23, "exp_month": 2, "exp_year": 4, "cvc": 4}
_STRIPE_ID = re.compile(r"^(pm|seti)_[A-Za-z0-9]{1,100}$")


class CardInputError(BillingError):
    code = "invalid_card_input"


def parse_expiry(text: str) -> tuple[str, str]:
    """'04/28', '4/2028', '0428' -> ('04', '28'); CardInputError otherwise."""
    digits = re.sub(r"[\s/-]", "", text or "")
    if not digits.isdigit() or len(digits) not in (3, 4, 6):
        raise CardInputError("Enter the expiry as MM/YY.", field="expiry")
    if len(digits) == 3:
        digits = "0" + digits
    month, year = digits[:2], digits[2:]
    if not 1 <= int(month) <= 12:
        raise CardInputError("The expiry month must be 01 to 12.", field="expiry")
    return month, year


def card_input_from_form(form: dict) -> dict[str, str]:
    """The simulated gateway's card fields from the portal form, bounded and typed.

    In Stripe mode the browser sends only a Stripe id (pm_/seti_) from Elements.
    """
    if not isinstance(form, dict):
        raise CardInputError("Invalid card details.")
    stripe_id = form.get("stripe_id")
    if stripe_id is not None:
        if not isinstance(stripe_id, str) or not _STRIPE_ID.fullmatch(stripe_id):
            raise CardInputError("Invalid card reference.")
        return {"payment_method" if stripe_id.startswith("pm_") else "setup_intent": stripe_id}
    number = form.get("number")
    expiry = form.get("expiry")
    cvc = form.get("cvc")
    if not all(isinstance(v, str) for v in (number, expiry, cvc)):
        raise CardInputError("Please fill in the card number, expiry and security code.")
    number = re.sub(r"[\s-]", "", number)
    if not number.isdigit() or not 12 <= len(number) <= 19:
        raise CardInputError("Enter the card number as shown on your card.", field="number")
    month, year = parse_expiry(expiry)
    cvc = cvc.strip()
    if not cvc.isdigit() or len(cvc) not in (3, 4):
        raise CardInputError("The security code is 3 or 4 digits.", field="cvc")
    return {"number": number, "exp_month": month, "exp_year": year, "cvc": cvc}


def save_card(*, merchant_id: int, subscriber_id: int, form: dict, now: datetime | None = None) -> CardUpdateResult:
    """Attach the new card (3DS when the bank asks) and retry every open invoice with it at once."""
    card_input = card_input_from_form(form)
    return update_payment_method(
        get_engine(),
        merchant_id=merchant_id,
        subscriber_id=subscriber_id,
        card_input=card_input,
        gateway=get_gateway(),
        now=now or utcnow(),
    )


def confirm_card(
    *, merchant_id: int, subscriber_id: int, setup_ref: str, approved: bool, now: datetime | None = None
) -> CardUpdateResult:
    """Finish the bank's challenge for a card setup this session started (setup_ref kept server-side)."""
    return confirm_payment_method_setup(
        get_engine(),
        merchant_id=merchant_id,
        subscriber_id=subscriber_id,
        setup_ref=setup_ref,
        approved=bool(approved),
        gateway=get_gateway(),
        now=now or utcnow(),
    )


def cancel(
    *, merchant_id: int, subscriber_id: int, reason_code: object, reason_text: object, now: datetime | None = None
) -> subscriptions.CancelResult:
    """Cancel the live subscription as its plan allows, with an optional reason."""
    if reason_code not in ("", None, *CANCEL_REASONS):
        raise BillingError("Please choose one of the listed reasons.", field="reason")
    if not isinstance(reason_text, (str, type(None))):
        raise BillingError("Invalid reason.", field="reason")
    reason = ": ".join(part for part in (reason_code or "", (reason_text or "").strip()) if part)
    with session_scope() as session:
        sub = current_subscription(session, merchant_id, subscriber_id)
        if sub is None:
            raise NotFound("There is no subscription to cancel.")
        return subscriptions.cancel_subscription(
            session, sub.id, merchant_id=merchant_id, actor="subscriber", reason=reason, now=now or utcnow()
        )


def undo_cancel(*, merchant_id: int, subscriber_id: int, now: datetime | None = None) -> None:
    with session_scope() as session:
        sub = current_subscription(session, merchant_id, subscriber_id)
        if sub is None:
            raise NotFound("There is no subscription.")
        subscriptions.undo_cancellation(
            session, sub.id, merchant_id=merchant_id, actor="subscriber", now=now or utcnow()
        )


def save_billing_details(*, merchant_id: int, subscriber_id: int, form: dict) -> None:
    if not isinstance(form, dict):
        raise BillingError("Invalid billing details.")
    with session_scope() as session:
        subscribers.update_billing_details(
            session,
            merchant_id=merchant_id,
            subscriber_id=subscriber_id,
            billing_name=form.get("billing_name", ""),
            billing_address=form.get("billing_address", ""),
            tax_id=form.get("tax_id", ""),
            actor="subscriber",
        )


def change_language(*, merchant_id: int, subscriber_id: int, language: object) -> None:
    with session_scope() as session:
        subscribers.set_language(session, merchant_id=merchant_id, subscriber_id=subscriber_id, language=language)
