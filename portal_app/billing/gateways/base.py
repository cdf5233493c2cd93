"""The payment gateway contract shared by the simulated and the Stripe gateway.

Our engine owns subscriptions and invoices; a gateway only stores cards and moves money.
"""

from __future__ import annotations

import dataclasses
from enum import StrEnum
from typing import Protocol


class ChargeOutcome(StrEnum):
    SUCCEEDED = "succeeded"
    REQUIRES_ACTION = "requires_action"  # the customer must authenticate (3DS)
    DECLINED = "declined"  # the bank said no: decline_code, hard or soft
    ERROR = "error"  # transient: timeout, rate limit, connection; outcome unknown


@dataclasses.dataclass(frozen=True)
class ChargeResult:
    outcome: ChargeOutcome
    gateway_ref: str = ""  # the gateway's charge / PaymentIntent id
    decline_code: str = ""  # Stripe's decline_code names: insufficient_funds, expired_card, ...
    message: str = ""
    hard: bool = False  # hard declines (lost/stolen card) are never retried
    action_url: str = ""  # where the customer authenticates, for REQUIRES_ACTION

    @property
    def succeeded(self) -> bool:
        return self.outcome is ChargeOutcome.SUCCEEDED


@dataclasses.dataclass(frozen=True)
class CardDetails:
    """What we may keep about a card: never the number or the CVC."""

    gateway_ref: str
    brand: str  # "visa", "mastercard", "amex", ...
    last4: str
    exp_month: int
    exp_year: int


class SetupOutcome(StrEnum):
    SUCCEEDED = "succeeded"
    REQUIRES_ACTION = "requires_action"
    DECLINED = "declined"
    ERROR = "error"


@dataclasses.dataclass(frozen=True)
class SetupResult:
    """Result of saving a card. REQUIRES_ACTION carries a setup_ref to confirm after 3DS."""

    outcome: SetupOutcome
    card: CardDetails | None = None
    setup_ref: str = ""
    decline_code: str = ""
    message: str = ""


class PaymentGateway(Protocol):
    name: str  # "simulated" | "stripe"
    test_mode: bool

    def create_customer(self, *, email: str, name: str, metadata: dict[str, str]) -> str:
        """Create the gateway customer; returns its id."""
        ...

    def attach_card(self, *, customer_ref: str, card_input: dict[str, str]) -> SetupResult:
        """Save a card for off-session use. card_input is gateway specific (simulated: number,
        exp_month, exp_year, cvc; Stripe: a payment_method id from Elements)."""
        ...

    def confirm_setup(self, *, setup_ref: str, approved: bool) -> SetupResult:
        """Finish a card setup after the customer's 3DS challenge."""
        ...

    def charge(
        self,
        *,
        customer_ref: str,
        payment_method_ref: str,
        amount_minor: int,
        currency: str,
        idempotency_key: str,
        description: str = "",
    ) -> ChargeResult:
        """Charge off-session. The same idempotency_key never charges twice."""
        ...

    def lookup_charge(self, *, idempotency_key: str) -> ChargeResult | None:
        """The result of an earlier charge with this key, or None if it never reached the gateway."""
        ...
