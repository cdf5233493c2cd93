"""Refunds at the simulated gateway, like Stripe's: once per idempotency key, never more than was charged.

A mixin of SimulatedGateway (whose charge file, `_charges`, keeps the refunds too: simulated_store.py).
Each refund is one IMMEDIATE transaction on that file: the key's first result is replayed, and the
amount left of the charge is computed from the refunds already recorded, so restarts, other worker
processes and concurrent calls behave as with Stripe. Only the test scripting (`fail_next_refund`) lives
in this process's memory, like the charge scripts.
"""

from __future__ import annotations

import base64
import secrets
import threading

from portal_app.billing.gateways.base import REFUND_REASONS, IdempotencyKeyReused, RefundResult
from portal_app.billing.gateways.simulated_store import SimulatedChargeStore
from portal_app.billing.money import validate_currency

_SCRIPT_LOCK = threading.Lock()
_FAIL_NEXT = [0]  # scripted refund failures still to answer (process-wide, like the charge scripts)
_TIMEOUT_NEXT: list[bool] = []  # scripted timeouts still to answer: True = the refund happened anyway


class SimulatedRefunds:
    """PaymentGateway.refund for the simulated gateway, plus its test scripting and inspection."""

    _charges: SimulatedChargeStore  # set by SimulatedGateway.__init__

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
        with _SCRIPT_LOCK:
            timeout = _TIMEOUT_NEXT.pop(0) if _TIMEOUT_NEXT else None
        if timeout is False:
            return RefundResult(False, message="The gateway did not answer (scripted timeout).", unknown=True)
        result = self._refund(idempotency_key, request)
        if timeout:
            return RefundResult(False, message="The gateway did not answer (scripted timeout).", unknown=True)
        return result

    def _refund(self, idempotency_key: str, request: tuple[str, int, str, str]) -> RefundResult:
        gateway_ref, amount_minor, currency, _reason = request
        # The script lock (this process) around one IMMEDIATE transaction (every process using the file).
        with _SCRIPT_LOCK, self._charges.transaction() as conn:
            known = self._charges.get_refund(conn, idempotency_key)
            if known is not None:
                if known[0] != request:
                    raise IdempotencyKeyReused(f"idempotency key {idempotency_key!r} was used for a different refund")
                return known[1]
            if _FAIL_NEXT[0]:
                _FAIL_NEXT[0] -= 1
                return RefundResult(False, message="The refund could not be processed (scripted failure).")
            stored = self._charges.get_by_ref(conn, gateway_ref or "")
            if stored is None or not stored.result.succeeded:
                result = RefundResult(False, message=f"No such charge: '{gateway_ref}'")
            else:
                _customer, _method, charged_minor, charged_currency = stored.request
                left = charged_minor - self._charges.refunded_of(conn, gateway_ref)
                if charged_currency != currency or amount_minor > left:
                    result = RefundResult(False, message=f"The refund is greater than the unrefunded {left}.")
                else:
                    result = RefundResult(
                        True, gateway_ref="re_sim_" + base64.b32encode(secrets.token_bytes(10)).decode()
                    )
            self._charges.insert_refund(conn, idempotency_key, request, result)
            return result

    def fail_next_refund(self, *, times: int = 1) -> None:
        """The next `times` refunds fail (nothing is refunded and the key is not remembered)."""
        with _SCRIPT_LOCK:
            _FAIL_NEXT[0] += times

    def timeout_next_refund(self, *, reached_gateway: bool = True, times: int = 1) -> None:
        """The next `times` refunds answer "unknown": done at the gateway anyway (reached_gateway) or not."""
        with _SCRIPT_LOCK:
            _TIMEOUT_NEXT.extend([reached_gateway] * times)

    def refunds(self) -> list[tuple[str, int, str]]:
        """(charge ref, amount, currency) of every refund done by any process using the file, oldest first."""
        return self._charges.refunds()

    def clear_refunds(self) -> None:
        """Forget every refund in the file and the refund scripts of this process."""
        self._charges.clear_refunds()
        with _SCRIPT_LOCK:
            _FAIL_NEXT[0] = 0
            _TIMEOUT_NEXT.clear()
