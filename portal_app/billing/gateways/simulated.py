"""An offline gateway that behaves like Stripe test mode, for the demo and for tests.

It accepts only Stripe's documented test card numbers and reproduces their behaviour (declines,
3DS, charge failures; the card table and checks are in simulated_cards.py). Cards arrive as pm_ ids
from its tokenizer (simulated_tokens.py, the simulated Stripe.js), never as numbers. Customers,
cards and scripts live in one process-wide store guarded by a lock; charges (and refunds) live on disk
(simulated_store.py, SIMULATED_GATEWAY_PATH) keyed by idempotency key, so idempotency holds across
threads, processes, restarts and restores of our database, as with Stripe. Neither keeps a card
number or CVC: only brand, last4, expiry and a behaviour tag.

Like Stripe, the gateway outlives our processes: the CLI that seeds the demo, the web server and a
cron billing run each have their own memory. So a card reference carries its behaviour and a
fingerprint of its customer (pm_sim_<code><random><customer hash>), and customer references have a
fixed shape: a process that never saw them still charges them correctly, and still refuses a card
used with another customer.

Test scripting (Kill Bill style), process-wide and consumed by the next charge() calls in order:
    gateway.fail_next("insufficient_funds", times=2)   # decline the next two charges
    gateway.timeout_next()                              # charge goes through, caller sees ERROR
    gateway.timeout_next(reached_gateway=False)         # caller sees ERROR, nothing was charged
    gateway.require_action_next()                       # next charge needs 3DS
    gateway.reset()                                     # forget everything (between tests)
Inspection: charges_for(customer_ref), succeeded_charge_count() (both read the charge file, so they
count what every process charged), charge_request_count() (this process), cards_for(customer_ref).
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import re
import secrets
import threading
from collections import deque

from portal_app.billing.gateways.base import (
    CardDetails,
    CardEntry,
    CardEntryNotSupported,
    ChargeOutcome,
    ChargeResult,
    IdempotencyKeyReused,
    SetupOutcome,
    SetupResult,
    decline_code_of,
    is_hard_decline,
)
from portal_app.billing.gateways.simulated_cards import (
    BEHAVIOUR_CODES,
    BEHAVIOURS,
    CODE_BEHAVIOURS,
    gateway_message,
    setup_declined,
)
from portal_app.billing.gateways.simulated_refunds import SimulatedRefunds
from portal_app.billing.gateways.simulated_store import SimulatedCharge, SimulatedChargeStore, charge_store
from portal_app.billing.gateways.simulated_tokens import token_of_card_input
from portal_app.billing.money import validate_currency
from portal_app.settings import get_settings

_TIMEOUT_MESSAGE = "The payment gateway did not answer in time; the outcome of this charge is unknown."

# --------------------------------------------------------------------------- the store


def _random_part(length: int) -> str:
    """Letters and digits from the OS's CSPRNG (base32: one call instead of one per character)."""
    return base64.b32encode(secrets.token_bytes(10)).decode()[:length]


def _new_ref(prefix: str) -> str:
    """Stripe-looking ids: cus_sim_..., pm_sim_..., seti_sim_..., ch_sim_..."""
    return f"{prefix}_sim_" + _random_part(16)


_CUSTOMER_REF = re.compile(r"^cus_sim_[A-Za-z0-9]{16}$")
_CARD_REF = re.compile(r"^pm_sim_([A-Z])[A-Za-z0-9]{12}([0-9a-f]{8})$")


def _customer_fingerprint(customer_ref: str) -> str:
    return hashlib.sha256(customer_ref.encode()).hexdigest()[:8]


def _new_card_ref(behaviour: str, customer_ref: str) -> str:
    """pm_sim_<behaviour code><12 random><customer fingerprint>: chargeable from any process."""
    random_part = _random_part(12)
    return f"pm_sim_{BEHAVIOUR_CODES[behaviour]}{random_part}{_customer_fingerprint(customer_ref)}"


def _is_customer(customer_ref: str) -> bool:
    """Known here, or shaped like one this gateway issued (in another process)."""
    return customer_ref in _STORE.customers or bool(_CUSTOMER_REF.fullmatch(customer_ref or ""))


def _card_for(payment_method_ref: str, customer_ref: str) -> _StoredCard | None:
    """The saved card, from this process's memory or decoded from its reference."""
    card = _STORE.cards.get(payment_method_ref)
    if card is not None:
        return card if card.customer_ref == customer_ref else None
    match = _CARD_REF.fullmatch(payment_method_ref or "")
    if match is None or match.group(2) != _customer_fingerprint(customer_ref or ""):
        return None
    behaviour = CODE_BEHAVIOURS.get(match.group(1))
    if behaviour is None:
        return None
    return _StoredCard(customer_ref, behaviour, CardDetails(payment_method_ref, "", "", 0, 0))


@dataclasses.dataclass(frozen=True)
class _StoredCard:
    customer_ref: str
    behaviour: str
    details: CardDetails


@dataclasses.dataclass(frozen=True)
class _Script:
    """One scripted answer for the next charge (see the module docstring)."""

    kind: str  # "decline" | "timeout_after" | "timeout_before" | "requires_action"
    decline_code: str = ""
    message: str = ""
    hard: bool = False


@dataclasses.dataclass
class _Store:
    """Plain data only (picklable), so tests can inspect all of it for leaked card numbers."""

    customers: dict[str, dict] = dataclasses.field(default_factory=dict)
    cards: dict[str, _StoredCard] = dataclasses.field(default_factory=dict)
    pending_setups: dict[str, _StoredCard] = dataclasses.field(default_factory=dict)
    finished_setups: dict[str, SetupResult] = dataclasses.field(default_factory=dict)
    script: deque[_Script] = dataclasses.field(default_factory=deque)
    charge_requests: int = 0


_LOCK = threading.Lock()
_STORE = _Store()


# --------------------------------------------------------------------------- the gateway


class SimulatedGateway(SimulatedRefunds):
    """Stripe test mode without the network. Implements portal_app.billing.gateways.base.PaymentGateway."""

    name = "simulated"
    card_entry = CardEntry.FORM

    def __init__(self, stripe_secret_key: str = "", *, store_path: str | None = None) -> None:
        # A live key beside a fake gateway means someone believes real money is moving: stop loudly.
        if (stripe_secret_key or "").strip().startswith(("sk_live_", "rk_live_")):
            raise RuntimeError(
                "The simulated gateway refuses to run while a live Stripe key is configured; "
                "use the Stripe gateway or remove the live key"
            )
        self._charges: SimulatedChargeStore = charge_store(store_path or get_settings().simulated_gateway_path)

    @property
    def test_mode(self) -> bool:
        return True

    @property
    def publishable_key(self) -> str:
        return ""

    # ----------------------------------------------------------------- PaymentGateway

    def create_customer(self, *, email: str, name: str, metadata: dict[str, str]) -> str:
        ref = _new_ref("cus")
        with _LOCK:
            _STORE.customers[ref] = {"email": email, "name": name, "metadata": dict(metadata or {})}
        return ref

    def attach_card(self, *, customer_ref: str, card_input: dict[str, str]) -> SetupResult:
        """Save a card tokenized by simulated_tokens: {"payment_method": "pm_..."} only, like Stripe.
        3DS test cards answer REQUIRES_ACTION with a setup_ref.

        Raw card data is refused with ValueError (cards reach a gateway only through its tokenizer),
        as is an id this tokenizer did not issue or that has outlived TOKEN_LIFETIME.
        """
        token = token_of_card_input(card_input)
        behaviour = BEHAVIOURS[token.behaviour]
        if behaviour.attach_decline:
            return setup_declined(behaviour.attach_decline)
        stored = _StoredCard(
            customer_ref=customer_ref,
            behaviour=token.behaviour,
            details=CardDetails(
                _new_card_ref(token.behaviour, customer_ref),
                token.brand,
                token.last4,
                token.exp_month,
                token.exp_year,
            ),
        )
        with _LOCK:
            if not _is_customer(customer_ref):
                return setup_declined("resource_missing", f"No such customer: '{customer_ref}'")
            if behaviour.setup_needs_3ds:
                setup_ref = _new_ref("seti")
                _STORE.pending_setups[setup_ref] = stored
                return SetupResult(
                    SetupOutcome.REQUIRES_ACTION,
                    setup_ref=setup_ref,
                    message="Your bank asks you to confirm this card (3D Secure).",
                )
            _STORE.cards[stored.details.gateway_ref] = stored
        return SetupResult(SetupOutcome.SUCCEEDED, card=stored.details)

    def confirm_setup(self, *, setup_ref: str, approved: bool) -> SetupResult:
        """Finish a 3DS card setup. Confirming the same setup again returns the first answer."""
        with _LOCK:
            if setup_ref in _STORE.finished_setups:
                return _STORE.finished_setups[setup_ref]
            pending = _STORE.pending_setups.pop(setup_ref, None)
            if pending is None:
                return setup_declined(
                    "resource_missing", "This card confirmation has expired. Please enter your card again."
                )
            if approved:
                _STORE.cards[pending.details.gateway_ref] = pending
                result = SetupResult(SetupOutcome.SUCCEEDED, card=pending.details, setup_ref=setup_ref)
            else:
                result = SetupResult(
                    SetupOutcome.DECLINED,
                    setup_ref=setup_ref,
                    decline_code="authentication_failed",
                    message=gateway_message("authentication_failed"),
                )
            _STORE.finished_setups[setup_ref] = result
            return result

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
        """Charge off-session. A key seen before returns its first result and charges nothing.

        Raises ValueError for caller bugs (amount <= 0, unknown currency, empty key, a key reused
        with different parameters); card problems come back as DECLINED / REQUIRES_ACTION.
        """
        if isinstance(amount_minor, bool) or not isinstance(amount_minor, int):
            raise TypeError("amount_minor must be an int (minor units)")
        if amount_minor <= 0:
            raise ValueError("amount_minor must be > 0")
        currency = validate_currency(currency)
        if not idempotency_key:
            raise ValueError("an idempotency_key is required")
        request = (customer_ref, payment_method_ref, amount_minor, currency)

        # The process lock (threads, scripts) around one IMMEDIATE transaction on the charge file (other
        # processes): concurrent calls with one key cannot both charge.
        with _LOCK, self._charges.transaction() as conn:
            _STORE.charge_requests += 1
            known = self._charges.get(conn, idempotency_key)
            if known is not None:
                if known.request != request:
                    raise IdempotencyKeyReused(f"idempotency key {idempotency_key!r} was used for a different charge")
                return known.result

            if _STORE.script and _STORE.script[0].kind == "timeout_before":
                # Lost on the way to the gateway: nothing recorded, the key stays unused.
                _STORE.script.popleft()
                return ChargeResult(ChargeOutcome.ERROR, message=_TIMEOUT_MESSAGE)

            card = _card_for(payment_method_ref, customer_ref) if _is_customer(customer_ref) else None
            if card is None:
                # Stripe's resource_missing: retrying cannot help, so it is hard. Scripts stay queued.
                return ChargeResult(
                    ChargeOutcome.DECLINED,
                    decline_code="resource_missing",
                    message=f"No such payment method '{payment_method_ref}' for customer '{customer_ref}'.",
                    hard=True,
                )

            script = _STORE.script.popleft() if _STORE.script else None
            result = dataclasses.replace(
                self._decide(card, script), amount_minor=amount_minor, currency=currency, customer_ref=customer_ref
            )
            self._charges.insert(conn, idempotency_key, request, description, result)
        if script is not None and script.kind == "timeout_after":
            # The gateway did the work; only the answer was lost on the way back.
            return ChargeResult(ChargeOutcome.ERROR, message=_TIMEOUT_MESSAGE)
        return result

    def lookup_charge(self, *, idempotency_key: str) -> ChargeResult | None:
        """What the gateway answered for this key, or None if no charge was recorded under it."""
        known = self._charges.find(idempotency_key)
        return known.result if known is not None else None

    def charge_status(self, pi_id: str) -> tuple[str, ChargeResult]:
        """(idempotency key, result) of a charge by its reference (ch_sim_...); ("", ERROR) if unknown here."""
        known = self._charges.find_by_ref(pi_id or "")
        if known is None:
            return "", ChargeResult(ChargeOutcome.ERROR, gateway_ref=pi_id, message="No such charge.")
        return known.idempotency_key, known.result

    def create_setup_intent(self, *, customer_ref: str) -> tuple[str, str]:
        raise CardEntryNotSupported("The simulated gateway takes cards from its tokenizer (simulated_tokens)")

    def payment_client_secret(self, pi_id: str) -> str:
        raise CardEntryNotSupported("The simulated gateway has no browser-side authentication")

    @staticmethod
    def _decide(card: _StoredCard, script: _Script | None) -> ChargeResult:
        """The real outcome of a charge that reached the gateway: a script, else the card's behaviour."""
        ref = _new_ref("ch")
        if script is not None and script.kind == "decline":
            return ChargeResult(
                ChargeOutcome.DECLINED,
                gateway_ref=ref,
                decline_code=script.decline_code,
                message=script.message,
                hard=script.hard,
            )
        behaviour = BEHAVIOURS[card.behaviour]
        if behaviour.charge_needs_3ds or (script is not None and script.kind == "requires_action"):
            return ChargeResult(
                ChargeOutcome.REQUIRES_ACTION,
                gateway_ref=ref,
                decline_code="authentication_required",
                message=gateway_message("authentication_required"),
            )
        # attach_decline too: a lost/stolen card that somehow got saved still never pays.
        code = behaviour.charge_decline or behaviour.attach_decline
        if code:
            return ChargeResult(
                ChargeOutcome.DECLINED,
                gateway_ref=ref,
                decline_code=code,
                message=gateway_message(code),
                hard=is_hard_decline(code),
            )
        return ChargeResult(ChargeOutcome.SUCCEEDED, gateway_ref=ref)

    # ----------------------------------------------------------------- test scripting

    def fail_next(
        self,
        code: str = "card_declined",
        *,
        hard: bool | None = None,
        message: str = "",
        times: int = 1,
    ) -> None:
        """Decline the next `times` charges with this decline_code, whatever the card.

        "card_declined" is Stripe's error code for a generic decline, so it yields decline_code
        "generic_decline". hard=None follows Stripe: lost/stolen/pickup/fraudulent... are hard.
        """
        decline_code = decline_code_of(code)
        script = _Script(
            "decline",
            decline_code=decline_code,
            message=message or gateway_message(decline_code),
            hard=is_hard_decline(decline_code) if hard is None else hard,
        )
        self._push(script, times)

    def timeout_next(self, *, reached_gateway: bool = True, times: int = 1) -> None:
        """The next charge answers ERROR (outcome unknown to the caller).

        reached_gateway=True: the charge was processed and recorded (a good card is charged), so
        lookup_charge() reveals the real result. False: it never arrived; lookup_charge() is None.
        """
        self._push(_Script("timeout_after" if reached_gateway else "timeout_before"), times)

    def require_action_next(self, *, times: int = 1) -> None:
        """The next charge answers REQUIRES_ACTION (authentication_required), whatever the card."""
        self._push(_Script("requires_action"), times)

    def reset(self) -> None:
        """Forget all customers, cards, scripts in this process, and the charges and refunds in the file."""
        fresh = _Store()
        self._charges.clear()
        with _LOCK:
            # Clear in place: anything holding the store object sees the reset too.
            for field in dataclasses.fields(_Store):
                setattr(_STORE, field.name, getattr(fresh, field.name))
        self.clear_refunds()

    @staticmethod
    def _push(script: _Script, times: int) -> None:
        if isinstance(times, bool) or not isinstance(times, int) or times < 1:
            raise ValueError("times must be an int >= 1")
        with _LOCK:
            _STORE.script.extend([script] * times)

    # ----------------------------------------------------------------- inspection for tests

    def charges_for(self, customer_ref: str) -> list[SimulatedCharge]:
        """Succeeded charges of one customer, oldest first (declines and 3DS moved no money)."""
        return [c.as_charge() for c in self._charges.succeeded(customer_ref)]

    def succeeded_charge_count(self) -> int:
        """Succeeded charges across all customers, made by any process using this charge file."""
        return len(self._charges.succeeded())

    def charge_request_count(self) -> int:
        """Every charge() call that passed argument checks, idempotent replays and timeouts included."""
        with _LOCK:
            return _STORE.charge_requests

    def cards_for(self, customer_ref: str) -> list[CardDetails]:
        """Saved (usable) cards of one customer."""
        with _LOCK:
            return [c.details for c in _STORE.cards.values() if c.customer_ref == customer_ref]

    def pending_script_count(self) -> int:
        """Scripted answers not yet consumed (a test can assert it used them all)."""
        with _LOCK:
            return len(_STORE.script)
