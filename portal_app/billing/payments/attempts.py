"""A payment attempt as the charge protocol carries it: the claim, its gateway key, the result."""

from __future__ import annotations

import dataclasses
import secrets
from datetime import datetime
from enum import StrEnum

from portal_app.billing.money import Money
from portal_app.models import Merchant


class PaymentOutcome(StrEnum):
    SUCCEEDED = "succeeded"
    DECLINED = "declined"
    REQUIRES_ACTION = "requires_action"  # the bank wants the customer to authenticate (3DS)
    UNKNOWN = "unknown"  # sent, no answer yet: settled by lookup later, never charged again
    IN_PROGRESS = "in_progress"  # another worker holds the claim right now
    IN_REVIEW = "in_review"  # an earlier attempt's outcome awaits a merchant: never charged automatically
    ALREADY_PAID = "already_paid"
    NOT_PAYABLE = "not_payable"  # draft, void or uncollectible


@dataclasses.dataclass(frozen=True)
class ChargeInvoiceResult:
    """What one charge try did, as codes: the edge words it (facades.portal.charge_text)."""

    outcome: PaymentOutcome
    invoice_id: int
    invoice_number: str
    amount: Money | None
    attempt_id: int | None = None  # None: we did not charge (paid already, someone else charging, ...)
    decline_code: str = ""
    hard_decline: bool = False
    action_url: str = ""  # where the customer authenticates (REQUIRES_ACTION)
    next_retry_at: datetime | None = None

    @property
    def succeeded(self) -> bool:
        return self.outcome is PaymentOutcome.SUCCEEDED

    @property
    def paid(self) -> bool:
        """The invoice is paid now (by this try or an earlier one)."""
        return self.outcome in (PaymentOutcome.SUCCEEDED, PaymentOutcome.ALREADY_PAID)


@dataclasses.dataclass(frozen=True)
class ChargeClaim:
    """A claimed invoice with everything the gateway call and the outcome need."""

    attempt_id: int
    invoice_id: int
    merchant_id: int
    subscriber_id: int
    number: str
    amount: Money
    customer_ref: str
    payment_method_ref: str  # "" when the subscriber has no card on file
    idempotency_key: str
    trigger: str

    @property
    def description(self) -> str:
        """The charge's description at the gateway (part of the request a replay repeats)."""
        return f"Invoice {self.number}"


def new_key_nonce() -> str:
    """The random part of a new attempt's key: 20 digits (66 bits) from the OS's CSPRNG."""
    return f"{secrets.randbelow(10**20):020d}"


def idempotency_key(merchant: Merchant, attempt_id: int, key_nonce: str = "") -> str:
    """The gateway key of an attempt: m<merchant>-<20 digits>-attempt-<attempt id>.

    Attempt ids start again at 1 in every new database and repeat after a restore from backup,
    while the gateway account lives on, so the digits are the attempt's random key_nonce (stored on
    its row). Attempts written before key_nonce existed ("") keep their old key, which used the
    merchant's creation instant there.
    """
    digits = key_nonce or f"{merchant.created_at:%Y%m%d%H%M%S%f}"
    return f"m{merchant.id}-{digits}-attempt-{attempt_id}"
