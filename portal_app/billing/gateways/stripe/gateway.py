"""The Stripe gateway: Customers, SetupIntents (card entry in Stripe Elements), off-session PaymentIntents.

Stripe is the payment processor only; our engine owns subscriptions and invoices (DESIGN §2). The
semantics mirror the simulated gateway, so the engine cannot tell them apart:

* card problems come back as results (DECLINED, REQUIRES_ACTION), never as exceptions;
* a charge whose outcome we do not know (timeout, connection, rate limit, Stripe 5xx/409, after a
  bounded number of retries with the SAME idempotency key) answers ERROR; the engine settles it
  later by replaying the same request under the same key (Stripe answers the first result),
  never with a new key;
* caller bugs and misconfiguration raise: ValueError/TypeError for bad arguments,
  IdempotencyKeyReused for a key sent with different parameters, StripeRequestRejected when Stripe
  refuses the request itself (bad or restricted key, invalid parameters). Stripe processed nothing
  in those cases, so raising is safe and makes the bug visible instead of turning it into dunning.

Calls that have no ERROR result (create_customer, create_setup_intent, lookup_charge and the
read helpers) raise StripeUnavailable when Stripe stays unreachable.

The HTTP client is injectable (`http_client=`, any `stripe.HTTPClient`): tests replace it with a
stub that answers canned JSON, so the real SDK builds the requests and parses the answers.
The API version is the one the installed SDK is pinned to (stripe==16.1.0), because the SDK's typed
objects are generated for it; we re-fetch webhook objects through the API, so the webhook
endpoint's own API version does not matter.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Mapping
from typing import Any

import stripe

from portal_app.billing.gateways.base import (
    RAW_CARD_KEYS,
    REFUND_REASONS,
    CardDetails,
    CardEntry,
    ChargeOutcome,
    ChargeResult,
    IdempotencyKeyReused,
    RefundResult,
    SetupOutcome,
    SetupResult,
    decline_code_of,
)
from portal_app.billing.gateways.stripe.client import StripeApi
from portal_app.billing.gateways.stripe.config import check_stripe_settings, is_secret_key, key_mode
from portal_app.billing.gateways.stripe.errors import StripeUnavailable, TransientFailure, rejection_of
from portal_app.billing.gateways.stripe.objects import (
    card_of,
    charge_result_from_intent,
    decline_from_error,
    id_of,
    stripe_amount,
    stripe_field,
)
from portal_app.billing.money import validate_currency

log = logging.getLogger(__name__)

# Ids that reach us from the browser (Stripe Elements) are checked strictly before any API call.
_PM_ID = re.compile(r"^pm_[A-Za-z0-9]{1,100}$")
_SETI_ID = re.compile(r"^seti_[A-Za-z0-9]{1,100}$")
_PI_ID = re.compile(r"^pi_[A-Za-z0-9]{1,100}$")
# Our idempotency keys go into a search query: a strict alphabet means no query injection.
_IDEMPOTENCY_KEY = re.compile(r"^[A-Za-z0-9_.:\-]{1,255}$")


_UNKNOWN_OUTCOME = "Stripe did not answer in time; the outcome of this charge is unknown."


class StripeGateway:
    """PaymentGateway over the Stripe API (see the module docstring for the error contract)."""

    name = "stripe"
    card_entry = CardEntry.STRIPE_ELEMENTS

    def __init__(
        self,
        secret_key: str,
        publishable_key: str = "",
        *,
        http_client: stripe.HTTPClient | None = None,
        max_retries: int = 2,
        backoff_seconds: tuple[float, ...] = (0.5, 1.5),
        sleep: Callable[[float], None] = time.sleep,
        timeout_seconds: float = 30.0,
        api_base: str = "",
    ):
        if not is_secret_key(secret_key):
            raise ValueError("StripeGateway needs a secret (sk_) or restricted (rk_) key")
        self._test_mode = key_mode(secret_key) == "test"
        self._publishable_key = publishable_key
        self._api = StripeApi(
            secret_key,
            http_client=http_client,
            max_retries=max_retries,
            backoff_seconds=backoff_seconds,
            sleep=sleep,
            timeout_seconds=timeout_seconds,
            api_base=api_base,
        )

    @property
    def test_mode(self) -> bool:
        return self._test_mode

    @property
    def publishable_key(self) -> str:
        return self._publishable_key

    @classmethod
    def from_settings(cls, settings: Any, *, http_client: stripe.HTTPClient | None = None) -> StripeGateway:
        """The gateway for a deployment, after check_stripe_settings() accepted its settings."""
        check_stripe_settings(settings)
        return cls(
            settings.stripe_secret_key,
            settings.stripe_publishable_key,
            http_client=http_client,
            api_base=settings.stripe_api_base,
        )

    # ----------------------------------------------------------------- customers and cards

    def create_customer(self, *, email: str, name: str, metadata: dict[str, str]) -> str:
        options = self._api.new_key("customer")
        params = {"email": email, "name": name, "metadata": dict(metadata or {})}
        customer = self._api.read(lambda: self._api.v1.customers.create(params=params, options=options))
        return customer.id

    def create_setup_intent(self, *, customer_ref: str) -> tuple[str, str]:
        """A SetupIntent for Stripe Elements: (id, client_secret). The client secret goes to the browser
        only (never into state that is persisted or logged); cards are saved for off-session charges."""
        options = self._api.new_key("setup")
        params = {"customer": customer_ref, "usage": "off_session", "payment_method_types": ["card"]}
        intent = self._api.read(lambda: self._api.v1.setup_intents.create(params=params, options=options))
        return intent.id, intent.client_secret

    def attach_card(self, *, customer_ref: str, card_input: dict[str, str]) -> SetupResult:
        """Save the card Stripe Elements collected: {"setup_intent": "seti_..."} (preferred: Stripe ran
        3DS and optimised the card for off-session use) or {"payment_method": "pm_..."}.

        Raw card data is refused with ValueError: no card number may ever reach our server. So is an
        id that is malformed or belongs to another customer (tampering or a bug, not a decline).
        """
        if not isinstance(card_input, Mapping):
            raise TypeError('card_input must be {"setup_intent": "seti_..."} or {"payment_method": "pm_..."}')
        if RAW_CARD_KEYS & {str(k).lower() for k in card_input}:
            raise ValueError("Raw card data must never reach the server: collect the card with Stripe Elements")
        if set(card_input) == {"setup_intent"}:
            setup_ref = str(card_input["setup_intent"])
            if not _SETI_ID.fullmatch(setup_ref):
                raise ValueError("setup_intent must be a SetupIntent id (seti_...)")
            return self._finish_setup(setup_ref, expected_customer=customer_ref)
        if set(card_input) == {"payment_method"}:
            pm_id = str(card_input["payment_method"])
            if not _PM_ID.fullmatch(pm_id):
                raise ValueError("payment_method must be a PaymentMethod id (pm_...)")
            return self._attach_payment_method(customer_ref, pm_id)
        raise ValueError('card_input must be exactly {"setup_intent": ...} or {"payment_method": ...}')

    def confirm_setup(self, *, setup_ref: str, approved: bool) -> SetupResult:
        """Report a SetupIntent's state after the browser ran 3DS with Stripe.js.

        `approved` is ignored: it is the simulated gateway's stand-in for the bank's answer, while
        with Stripe the bank answered Stripe directly and the SetupIntent says what happened.
        """
        if not _SETI_ID.fullmatch(setup_ref or ""):
            raise ValueError("setup_ref must be a SetupIntent id (seti_...)")
        return self._finish_setup(setup_ref, expected_customer=None)

    def _finish_setup(self, setup_ref: str, *, expected_customer: str | None) -> SetupResult:
        try:
            customer_ref, result = self.setup_status(setup_ref)
        except StripeUnavailable as exc:
            return SetupResult(SetupOutcome.ERROR, setup_ref=setup_ref, message=str(exc))
        if not customer_ref or (expected_customer is not None and customer_ref != expected_customer):
            raise ValueError("This SetupIntent belongs to another customer")
        if result.outcome is SetupOutcome.SUCCEEDED and result.card is not None:
            failure = self._make_default(customer_ref, result.card.gateway_ref)
            if failure is not None:
                return failure
        return result

    def setup_status(self, setup_ref: str) -> tuple[str, SetupResult]:
        """(customer id, state) of a SetupIntent, read from Stripe; changes nothing (webhooks use it)."""
        intent = self._api.read(
            lambda: self._api.v1.setup_intents.retrieve(setup_ref, params={"expand": ["payment_method"]})
        )
        customer_ref = id_of(stripe_field(intent, "customer"))
        status = stripe_field(intent, "status", "")
        if status == "succeeded":
            card = card_of(stripe_field(intent, "payment_method"))
            if card is None:
                return customer_ref, SetupResult(
                    SetupOutcome.DECLINED,
                    setup_ref=setup_ref,
                    decline_code="card_not_supported",
                    message="Only cards can be saved here.",
                )
            return customer_ref, SetupResult(SetupOutcome.SUCCEEDED, card=card, setup_ref=setup_ref)
        if status == "requires_action":
            return customer_ref, SetupResult(
                SetupOutcome.REQUIRES_ACTION,
                setup_ref=setup_ref,
                message="Your bank asks you to confirm this card (3D Secure).",
            )
        if status == "processing":
            return customer_ref, SetupResult(
                SetupOutcome.ERROR, setup_ref=setup_ref, message="Your card is still being checked. Try again shortly."
            )
        error = stripe_field(intent, "last_setup_error")
        if error is not None:
            code = decline_code_of(str(stripe_field(error, "decline_code", "") or stripe_field(error, "code", "")))
            return customer_ref, SetupResult(
                SetupOutcome.DECLINED,
                setup_ref=setup_ref,
                decline_code=code,
                message=str(stripe_field(error, "message", "")) or "Your card was declined.",
            )
        return customer_ref, SetupResult(
            SetupOutcome.DECLINED,
            setup_ref=setup_ref,
            decline_code="setup_incomplete",
            message="Saving the card was not completed. Please enter your card again.",
        )

    def _attach_payment_method(self, customer_ref: str, pm_id: str) -> SetupResult:
        try:
            pm = self._api.call(lambda: self._api.v1.payment_methods.retrieve(pm_id))
            owner = id_of(stripe_field(pm, "customer"))
            if owner and owner != customer_ref:
                raise ValueError("This PaymentMethod belongs to another customer")
            card = card_of(pm)
            if card is None:
                raise ValueError("Only card PaymentMethods can be saved")
            if not owner:
                options = self._api.new_key("attach")
                self._api.call(
                    lambda: self._api.v1.payment_methods.attach(
                        pm_id, params={"customer": customer_ref}, options=options
                    )
                )
        except TransientFailure as exc:
            return SetupResult(SetupOutcome.ERROR, message=f"Stripe is unavailable: {exc.last.user_message}")
        except stripe.CardError as err:  # attaching can run a verification the bank declines
            code = decline_code_of(str(stripe_field(err.error, "decline_code", "")) or err.code or "")
            return SetupResult(SetupOutcome.DECLINED, decline_code=code, message=err.user_message or "")
        except stripe.InvalidRequestError as err:
            if err.code == "resource_missing":
                return SetupResult(
                    SetupOutcome.DECLINED, decline_code="resource_missing", message=err.user_message or ""
                )
            raise rejection_of(err) from err
        except stripe.StripeError as err:
            raise rejection_of(err) from err
        return self._make_default(customer_ref, pm_id) or SetupResult(SetupOutcome.SUCCEEDED, card=card)

    def _make_default(self, customer_ref: str, pm_id: str) -> SetupResult | None:
        """Make the card the customer's default at Stripe (what the Dashboard shows); None when done.

        Our engine passes the card explicitly on every charge, so this is bookkeeping, but a failure
        still reports ERROR: the caller retries the whole (idempotent) save.
        """
        options = self._api.new_key("default")
        params = {"invoice_settings": {"default_payment_method": pm_id}}
        try:
            self._api.call(lambda: self._api.v1.customers.update(customer_ref, params=params, options=options))
        except TransientFailure as exc:
            return SetupResult(SetupOutcome.ERROR, message=f"Stripe is unavailable: {exc.last.user_message}")
        except stripe.StripeError as err:
            raise rejection_of(err) from err
        return None

    def card_details(self, pm_id: str) -> CardDetails | None:
        """A PaymentMethod's card as Stripe knows it now (after a card-network update, say)."""
        if not _PM_ID.fullmatch(pm_id or ""):
            raise ValueError("pm_id must be a PaymentMethod id (pm_...)")
        return card_of(self._api.read(lambda: self._api.v1.payment_methods.retrieve(pm_id)))

    # ----------------------------------------------------------------- charges

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
        """Charge a saved card off-session with a confirmed PaymentIntent.

        The idempotency key is sent as the Idempotency-Key header (Stripe replays the first answer
        for 24 hours) and stored in metadata so lookup_charge() can find the PaymentIntent later.
        payment_method_types=[card] because newer API versions enable automatic payment methods by
        default, which would demand a return_url for redirect-based methods on confirm.
        """
        if isinstance(amount_minor, bool) or not isinstance(amount_minor, int):
            raise TypeError("amount_minor must be an int (minor units)")
        if amount_minor <= 0:
            raise ValueError("amount_minor must be > 0")
        currency = validate_currency(currency)
        if not idempotency_key or not _IDEMPOTENCY_KEY.fullmatch(idempotency_key):
            raise ValueError("idempotency_key must be 1-255 characters of [A-Za-z0-9_.:-]")
        params: dict[str, Any] = {
            "amount": stripe_amount(amount_minor, currency),
            "currency": currency.lower(),
            "customer": customer_ref,
            "payment_method": payment_method_ref,
            "payment_method_types": ["card"],
            "off_session": True,
            "confirm": True,
            "metadata": {"idempotency_key": idempotency_key},
        }
        if description:
            params["description"] = description[:1000]
        options = {"idempotency_key": idempotency_key}
        try:
            intent = self._api.call(lambda: self._api.v1.payment_intents.create(params=params, options=options))
        except TransientFailure as exc:
            log.warning("charge %s: outcome unknown after retries: %r", idempotency_key, exc.last)
            return ChargeResult(ChargeOutcome.ERROR, message=_UNKNOWN_OUTCOME)
        except stripe.CardError as err:
            pi = stripe_field(err.error, "payment_intent")
            return decline_from_error(err.error, id_of(pi), err.user_message or "Your card was declined.")
        except stripe.IdempotencyError as err:
            raise IdempotencyKeyReused(f"idempotency key {idempotency_key!r} was used for a different charge") from err
        except stripe.InvalidRequestError as err:
            if err.code == "resource_missing":  # card detached / customer deleted: only a new card helps
                return ChargeResult(
                    ChargeOutcome.DECLINED, decline_code="resource_missing", message=err.user_message or "", hard=True
                )
            raise rejection_of(err) from err
        except stripe.StripeError as err:
            raise rejection_of(err) from err
        return charge_result_from_intent(intent)

    def lookup_charge(self, *, idempotency_key: str) -> ChargeResult | None:
        """The PaymentIntent created under this key, found by its metadata, or None.

        Stripe's search is eventually consistent (usually under a minute, up to an hour during
        outages): None means "not found yet", never "not charged". The engine settles by replaying
        the request under the same key (charge()) and uses a hit here only as a fact. Raises
        StripeUnavailable when Stripe cannot be asked (the engine keeps the attempt unknown).
        """
        if not idempotency_key or not _IDEMPOTENCY_KEY.fullmatch(idempotency_key):
            raise ValueError("idempotency_key must be 1-255 characters of [A-Za-z0-9_.:-]")
        query = f"metadata['idempotency_key']:'{idempotency_key}'"
        found = self._api.read(lambda: self._api.v1.payment_intents.search(params={"query": query, "limit": 10}))
        intents = list(stripe_field(found, "data", []))
        if not intents:
            return None
        # One key creates one PaymentIntent; should there be more (a key reused after Stripe forgot
        # it, 24 h later), a success wins: the money moved.
        return charge_result_from_intent(
            max(intents, key=lambda pi: (stripe_field(pi, "status") == "succeeded", stripe_field(pi, "created", 0)))
        )

    def refund(
        self, *, gateway_ref: str, amount_minor: int, currency: str, idempotency_key: str, reason: str
    ) -> RefundResult:
        """Refund (part of) a succeeded PaymentIntent, with the Idempotency-Key header, so a retry never
        refunds twice. A refund Stripe accepted (succeeded, or pending at the bank) is done; an already
        refunded PaymentIntent is done too (a person refunded it in the Dashboard)."""
        if not _PI_ID.fullmatch(gateway_ref or ""):  # fullmatch: `$` would let a trailing newline through
            raise ValueError("gateway_ref must be a PaymentIntent id (pi_...)")
        if isinstance(amount_minor, bool) or not isinstance(amount_minor, int) or amount_minor <= 0:
            raise ValueError("amount_minor must be an int > 0 (minor units)")
        if not idempotency_key or not _IDEMPOTENCY_KEY.fullmatch(idempotency_key):
            raise ValueError("idempotency_key must be 1-255 characters of [A-Za-z0-9_.:-]")
        if reason not in REFUND_REASONS:
            raise ValueError(f"reason must be one of {sorted(REFUND_REASONS)}")
        params = {
            "payment_intent": gateway_ref,
            "amount": stripe_amount(amount_minor, validate_currency(currency)),
            "reason": reason,
            "metadata": {"idempotency_key": idempotency_key},
        }
        options = {"idempotency_key": idempotency_key}
        try:
            refund = self._api.call(lambda: self._api.v1.refunds.create(params=params, options=options))
        except TransientFailure as exc:
            log.warning("refund %s: Stripe unavailable: %r", idempotency_key, exc.last)
            return RefundResult(
                False, message=f"Stripe is unavailable: {exc.last.user_message or exc.last}", unknown=True
            )
        except stripe.IdempotencyError as err:
            raise IdempotencyKeyReused(f"idempotency key {idempotency_key!r} was used for a different refund") from err
        except stripe.InvalidRequestError as err:
            if err.code == "charge_already_refunded":
                return RefundResult(True, message=err.user_message or "already refunded")
            return RefundResult(False, message=err.user_message or str(err))
        except stripe.StripeError as err:
            return RefundResult(False, message=err.user_message or str(err))
        status = str(stripe_field(refund, "status", ""))
        if status in ("succeeded", "pending"):
            return RefundResult(True, gateway_ref=id_of(refund))
        failure = str(stripe_field(refund, "failure_reason", "")) or status
        return RefundResult(False, gateway_ref=id_of(refund), message=f"The refund {failure or 'failed'}.")

    def charge_status(self, pi_id: str) -> tuple[str, ChargeResult]:
        """(our idempotency key from metadata, current result) of a PaymentIntent; "" when not ours."""
        if not _PI_ID.fullmatch(pi_id or ""):
            raise ValueError("pi_id must be a PaymentIntent id (pi_...)")
        intent = self._api.read(lambda: self._api.v1.payment_intents.retrieve(pi_id))
        key = str(stripe_field(stripe_field(intent, "metadata"), "idempotency_key", ""))
        return key, charge_result_from_intent(intent)

    def payment_client_secret(self, pi_id: str) -> str:
        """The client secret the portal hands to Stripe.js so the customer can authenticate a
        REQUIRES_ACTION payment on-session (confirmCardPayment). Never log or persist it."""
        if not _PI_ID.fullmatch(pi_id or ""):
            raise ValueError("pi_id must be a PaymentIntent id (pi_...)")
        intent = self._api.read(lambda: self._api.v1.payment_intents.retrieve(pi_id))
        return str(stripe_field(intent, "client_secret", ""))
