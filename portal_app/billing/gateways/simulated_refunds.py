"""Refunds at the simulated gateway, like Stripe's: once per idempotency key, never more than was charged.

A mixin of SimulatedGateway (which finds the charge: `succeeded_charge`). Refunds live in this
process's memory, like the simulated gateway's charges.
"""

from __future__ import annotations

import base64
import dataclasses
import secrets
import threading

from portal_app.billing.gateways.base import REFUND_REASONS, IdempotencyKeyReused, RefundResult
from portal_app.billing.money import validate_currency


@dataclasses.dataclass
class RefundLedger:
    """Refunds by idempotency key (request, result), the amount refunded per charge, and scripted failures."""

    by_key: dict[str, tuple[tuple[str, int, str, str], RefundResult]] = dataclasses.field(default_factory=dict)
    refunded: dict[str, int] = dataclasses.field(default_factory=dict)
    done: list[tuple[str, int, str]] = dataclasses.field(default_factory=list)
    fail_next: int = 0


LEDGER = RefundLedger()
LEDGER_LOCK = threading.Lock()


def clear_refunds() -> None:
    with LEDGER_LOCK:
        LEDGER.__init__()


class SimulatedRefunds:
    """PaymentGateway.refund for the simulated gateway, plus its test scripting and inspection."""

    def succeeded_charge(self, gateway_ref: str):  # SimulatedGateway answers it
        raise NotImplementedError

    def refund(
        self, *, gateway_ref: str, amount_minor: int, currency: str, idempotency_key: str, reason: str
    ) -> RefundResult:
        """Refund (part of) a succeeded charge; failures are results (no such charge, more than is left)."""
        if isinstance(amount_minor, bool) or not isinstance(amount_minor, int) or amount_minor <= 0:
            raise ValueError("amount_minor must be an int > 0 (minor units)")
        currency = validate_currency(currency)
        if not idempotency_key:
            raise ValueError("an idempotency_key is required")
        if reason not in REFUND_REASONS:
            raise ValueError(f"reason must be one of {sorted(REFUND_REASONS)}")
        request = (gateway_ref, amount_minor, currency, reason)
        charged = self.succeeded_charge(gateway_ref)
        with LEDGER_LOCK:
            known = LEDGER.by_key.get(idempotency_key)
            if known is not None:
                if known[0] != request:
                    raise IdempotencyKeyReused(f"idempotency key {idempotency_key!r} was used for a different refund")
                return known[1]
            if LEDGER.fail_next:
                LEDGER.fail_next -= 1
                return RefundResult(False, message="The refund could not be processed (scripted failure).")
            if charged is None:
                return RefundResult(False, message=f"No such charge: '{gateway_ref}'")
            left = charged.amount_minor - LEDGER.refunded.get(gateway_ref, 0)
            if charged.currency != currency or amount_minor > left:
                result = RefundResult(False, message=f"The refund is greater than the unrefunded {left}.")
            else:
                LEDGER.refunded[gateway_ref] = LEDGER.refunded.get(gateway_ref, 0) + amount_minor
                LEDGER.done.append((gateway_ref, amount_minor, currency))
                result = RefundResult(True, gateway_ref="re_sim_" + base64.b32encode(secrets.token_bytes(10)).decode())
            LEDGER.by_key[idempotency_key] = (request, result)
            return result

    def fail_next_refund(self, *, times: int = 1) -> None:
        """The next `times` refunds fail (nothing is refunded and the key is not remembered)."""
        with LEDGER_LOCK:
            LEDGER.fail_next += times

    def refunds(self) -> list[tuple[str, int, str]]:
        """(charge ref, amount, currency) of every refund done in this process, oldest first."""
        with LEDGER_LOCK:
            return list(LEDGER.done)
