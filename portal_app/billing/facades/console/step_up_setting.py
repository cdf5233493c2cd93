"""Console settings: "Require email verification for changes" (Merchant.step_up_required): with it
on, the portal asks for an emailed six-digit code before the card, the plan, a pause or a
cancellation changes (billing/step_up.py)."""

from __future__ import annotations

from typing import Any

from portal_app import db
from portal_app.billing.errors import NotFound
from portal_app.billing.facades.console.forms import ConsoleError
from portal_app.billing.facades.console.settings import update_merchant_fields
from portal_app.models import Merchant


def step_up_required(*, merchant_id: int) -> bool:
    with db.session_scope() as session:
        merchant = session.get(Merchant, merchant_id)
        if merchant is None:
            raise NotFound("Merchant not found")
        return merchant.step_up_required


def set_step_up_required(*, merchant_id: int, user_id: int, value: Any) -> bool:
    """Turn the check on or off (audited as settings_updated when it changes); returns the new value."""
    if not isinstance(value, bool):
        raise ConsoleError("Invalid value.", field="step_up_required")
    update_merchant_fields(merchant_id=merchant_id, user_id=user_id, values={"step_up_required": value})
    return value
