"""The payment gateway contract shared by the simulated and the Stripe gateway, and the decline facts
both report by.

Our engine owns subscriptions and invoices; a gateway only stores cards and moves money. Callers ask
a gateway what it can do (`card_entry`, `test_mode`), never which gateway it is.
"""

from __future__ import annotations

import dataclasses
from enum import StrEnum
from typing import Protocol

# --- decline facts (Stripe's decline_code names, which both gateways report) ---------------------

GENERIC_DECLINE = "generic_decline"
# "Do not retry" codes: the issuer will not change its mind, and retrying risks network penalties.
# Issuer-level (lost, stolen, fraud, revoked) plus account-level ones (the card or account is closed
# or invalid, or the card is gone at the gateway). Deliberately NOT hard: do_not_honor and
# generic_decline (the issuer's vague "no"; later retries often succeed), insufficient_funds,
# expired_card (the card network's updater may refresh the card), processing_error.
HARD_DECLINE_CODES: frozenset[str] = frozenset(
    {
        "lost_card",
        "stolen_card",
        "pickup_card",
        "restricted_card",
        "do_not_try_again",
        "fraudulent",
        "revocation_of_all_authorizations",
        "revocation_of_authorization",
        "security_violation",
        "stop_payment_order",
        "invalid_account",
        "new_account_information_available",
        "card_not_supported",
        "currency_not_supported",
        "merchant_blacklist",
        "transaction_not_allowed",
        "resource_missing",
    }
)


def decline_code_of(code: str) -> str:
    """The decline_code for a card error code: "card_declined" (or nothing) is a generic decline."""
    return GENERIC_DECLINE if code in ("", "card_declined") else code


def is_hard_decline(decline_code: str, advice_code: str = "") -> bool:
    """Never retried: a hard code, or any decline whose advice_code says "do_not_try_again"."""
    return decline_code in HARD_DECLINE_CODES or advice_code == "do_not_try_again"


class IdempotencyKeyReused(ValueError):
    """The same idempotency key was sent with different charge parameters (a bug in the caller)."""


class CardEntryNotSupported(NotImplementedError):
    """The gateway does not collect cards this way (ask `card_entry` first)."""


# Keys of raw card data: no gateway accepts them in card_input (cards arrive as tokenized ids).
RAW_CARD_KEYS = frozenset({"number", "card_number", "cardnumber", "pan", "cvc", "cvv", "cvc2", "exp_month", "exp_year"})


class CardEntry(StrEnum):
    """How a gateway collects a card."""

    FORM = "form"  # our card component posts the card to the simulated gateway's tokenizer; we see pm_ ids
    STRIPE_ELEMENTS = "stripe_elements"  # the browser hands the card to Stripe; we see seti_/pm_/pi_ ids


# --- results ----------------------------------------------------------------------------------


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
    # What the gateway says it charged (None / "" when it does not say): settlement matches these
    # against the attempt before it believes an answer.
    amount_minor: int | None = None
    currency: str = ""
    customer_ref: str = ""

    @property
    def succeeded(self) -> bool:
        return self.outcome is ChargeOutcome.SUCCEEDED


# Stripe's refund reasons (the only values its API takes).
REFUND_REASONS = frozenset({"duplicate", "fraudulent", "requested_by_customer"})


@dataclasses.dataclass(frozen=True)
class RefundResult:
    """A refund of a charge: done (the money is on its way back) or not, with the gateway's words."""

    succeeded: bool
    gateway_ref: str = ""  # the refund's id (re_...)
    message: str = ""
    # No answer (a timeout, the gateway unavailable): it may have been done. Replay the same key to learn.
    unknown: bool = False


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
    name: str  # "simulated" | "stripe": recorded on rows, never branched on
    card_entry: CardEntry

    @property
    def test_mode(self) -> bool:
        """No real money moves (the simulated gateway, or Stripe with test keys)."""
        ...

    @property
    def publishable_key(self) -> str:
        """The browser's key for STRIPE_ELEMENTS card entry (public by design); "" for FORM."""
        ...

    def create_customer(self, *, email: str, name: str, metadata: dict[str, str]) -> str:
        """Create the gateway customer; returns its id."""
        ...

    def attach_card(self, *, customer_ref: str, card_input: dict[str, str]) -> SetupResult:
        """Save a card for off-session use. card_input holds a tokenized id only: {"payment_method":
        "pm_..."} (the simulated tokenizer or Stripe) or {"setup_intent": "seti_..."} (Stripe Elements)."""
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
        """Charge off-session. The same idempotency_key never charges twice: while the gateway keeps the
        key (Stripe: at least 24 h) the same request answers the first result (ERROR while the first is
        still in flight), and a different request under it raises IdempotencyKeyReused."""
        ...

    def lookup_charge(self, *, idempotency_key: str) -> ChargeResult | None:
        """A charge made under this key, found by searching (Stripe Search is eventually consistent).

        A result is a fact; None only means "not found (yet)" and never that nothing was charged.
        """
        ...

    def refund(
        self, *, gateway_ref: str, amount_minor: int, currency: str, idempotency_key: str, reason: str
    ) -> RefundResult:
        """Give back (part of) a succeeded charge. The same idempotency_key never refunds twice; reason is
        one of REFUND_REASONS. Failures come back as RefundResult(succeeded=False), never as exceptions,
        except caller bugs (bad arguments, a key reused for another refund)."""
        ...

    # --- browser card entry and on-session 3DS (STRIPE_ELEMENTS; FORM raises CardEntryNotSupported)

    def create_setup_intent(self, *, customer_ref: str) -> tuple[str, str]:
        """Start saving a card in the browser: (setup id, client secret for the browser only)."""
        ...

    def payment_client_secret(self, pi_id: str) -> str:
        """The client secret the browser needs to let the customer authenticate a REQUIRES_ACTION charge."""
        ...

    def charge_status(self, pi_id: str) -> tuple[str, ChargeResult]:
        """(our idempotency key, current result) of a charge by its gateway reference; "" key when not ours.
        Settlement uses it to retrieve a charge whose reference an attempt stored."""
        ...
