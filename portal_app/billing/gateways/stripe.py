"""The Stripe gateway: Customers, SetupIntents (card entry in Stripe Elements), off-session PaymentIntents.

Stripe is the payment processor only; our engine owns subscriptions and invoices (DESIGN §2). The
semantics mirror the simulated gateway, so the engine cannot tell them apart:

* card problems come back as results (DECLINED, REQUIRES_ACTION), never as exceptions;
* a charge whose outcome we do not know (timeout, connection, rate limit, Stripe 5xx/409, after a
  bounded number of retries with the SAME idempotency key) answers ERROR; the engine settles it
  later with lookup_charge(), never by charging again;
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
import random
import re
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any, TypeVar
from urllib.parse import urlsplit

import stripe

from portal_app.billing.gateways.base import (
    CardDetails,
    ChargeOutcome,
    ChargeResult,
    SetupOutcome,
    SetupResult,
)
from portal_app.billing.gateways.simulated import HARD_DECLINE_CODES as _SIMULATED_HARD_CODES
from portal_app.billing.gateways.simulated import IdempotencyKeyReused
from portal_app.billing.money import minor_digits, validate_currency

log = logging.getLogger(__name__)

T = TypeVar("T")

__all__ = [
    "HARD_DECLINE_CODES",
    "IdempotencyKeyReused",
    "StripeGateway",
    "StripeRequestRejected",
    "StripeSettingsError",
    "StripeUnavailable",
    "check_stripe_settings",
    "key_mode",
    "stripe_amount",
    "stripe_field",
]

# Stripe's "do not retry" decline codes: the issuer will not change its mind, and retrying them
# risks network penalties. The simulated gateway's list plus the account-level ones (the card or
# account is closed/invalid, or the network says to stop). Deliberately NOT hard: do_not_honor and
# generic_decline (the issuer's vague "no"; later retries often succeed), insufficient_funds,
# expired_card (the card network's updater may refresh the card: payment_method.automatically_updated),
# processing_error. A decline whose advice_code is "do_not_try_again" is hard whatever its code.
HARD_DECLINE_CODES: frozenset[str] = _SIMULATED_HARD_CODES | frozenset(
    {
        "invalid_account",
        "new_account_information_available",
        "card_not_supported",
        "currency_not_supported",
        "merchant_blacklist",
        "transaction_not_allowed",
        "resource_missing",  # the card or customer is gone at Stripe: only a new card helps
    }
)

# Stripe's amount exponent differs from ISO 4217 for a few currencies (docs.stripe.com/currencies).
_STRIPE_ZERO_DECIMAL = frozenset(
    ["BIF", "CLP", "DJF", "GNF", "JPY", "KMF", "KRW", "MGA", "PYG", "RWF", "UGX", "VND", "VUV", "XAF", "XOF", "XPF"]
)
_STRIPE_THREE_DECIMAL = frozenset(["BHD", "JOD", "KWD", "OMR", "TND"])

# Ids that reach us from the browser (Stripe Elements) are checked strictly before any API call.
_PM_ID = re.compile(r"^pm_[A-Za-z0-9]{1,100}$")
_SETI_ID = re.compile(r"^seti_[A-Za-z0-9]{1,100}$")
_PI_ID = re.compile(r"^pi_[A-Za-z0-9]{1,100}$")
# Our idempotency keys go into a search query: a strict alphabet means no query injection.
_IDEMPOTENCY_KEY = re.compile(r"^[A-Za-z0-9_.:\-]{1,255}$")
_RAW_CARD_KEYS = frozenset(
    {"number", "card_number", "cardnumber", "pan", "cvc", "cvv", "cvc2", "exp_month", "exp_year"}
)
_SECRET_KEY = re.compile(r"^(sk|rk)_(test|live)_[A-Za-z0-9_]+$")
_PUBLISHABLE_KEY = re.compile(r"^pk_(test|live)_[A-Za-z0-9_]+$")
_WEBHOOK_SECRET = re.compile(r"^whsec_[A-Za-z0-9+/=_]+$")

_UNKNOWN_OUTCOME = "Stripe did not answer in time; the outcome of this charge is unknown."
_AUTH_REQUIRED = "authentication_required"


class StripeUnavailable(RuntimeError):
    """Stripe stayed unreachable (timeout, connection, rate limit, 5xx) after bounded retries."""


class StripeRequestRejected(RuntimeError):
    """Stripe refused the request itself (bad key, missing permission, invalid parameters).

    Nothing was processed: this is a bug or a misconfiguration to fix, not a card decline.
    """

    def __init__(self, message: str, *, code: str = "", http_status: int | None = None, request_id: str = ""):
        super().__init__(message)
        self.code = code
        self.http_status = http_status
        self.request_id = request_id


class StripeSettingsError(ValueError):
    """The Stripe settings are unsafe or inconsistent; the process must not start."""


class _Transient(Exception):
    """Internal: the call kept failing with retryable errors; `last` is the final one."""

    def __init__(self, last: stripe.StripeError):
        super().__init__(str(last))
        self.last = last


# --------------------------------------------------------------------------- settings


def key_mode(key: str) -> str:
    """'test' or 'live' for a Stripe key (sk_/rk_/pk_), '' when it is not a Stripe key."""
    match = re.match(r"^(?:sk|rk|pk)_(test|live)_", key or "")
    return match.group(1) if match else ""


def check_stripe_settings(settings: Any) -> None:
    """Refuse to start with unsafe Stripe settings. A no-op unless settings.gateway is "stripe".

    Live keys need environment=production and an https PUBLIC_URL (Stripe.js refuses plain http in
    live mode, and card pages must not be served over it). Messages never echo a key.
    """
    if getattr(settings, "gateway", "") != "stripe":
        return
    secret = (settings.stripe_secret_key or "").strip()
    publishable = (settings.stripe_publishable_key or "").strip()
    webhook_secret = (settings.stripe_webhook_secret or "").strip()
    missing = [
        name
        for name, value in (
            ("STRIPE_SECRET_KEY", secret),
            ("STRIPE_PUBLISHABLE_KEY", publishable),
            ("STRIPE_WEBHOOK_SECRET", webhook_secret),
        )
        if not value
    ]
    if missing:
        raise StripeSettingsError(f"GATEWAY=stripe needs {', '.join(missing)}")
    if not _SECRET_KEY.match(secret):
        raise StripeSettingsError("STRIPE_SECRET_KEY must be a secret (sk_) or restricted (rk_) key")
    if not _PUBLISHABLE_KEY.match(publishable):
        raise StripeSettingsError("STRIPE_PUBLISHABLE_KEY must be a publishable key (pk_)")
    if not _WEBHOOK_SECRET.match(webhook_secret):
        raise StripeSettingsError("STRIPE_WEBHOOK_SECRET must be an endpoint signing secret (whsec_)")
    if key_mode(secret) != key_mode(publishable):
        raise StripeSettingsError(
            f"Stripe key modes differ: the secret key is {key_mode(secret)} mode, "
            f"the publishable key {key_mode(publishable)} mode"
        )
    if key_mode(secret) == "live":
        if settings.environment != "production":
            raise StripeSettingsError("A live Stripe key is only allowed with ENVIRONMENT=production")
        url = urlsplit(settings.public_url or "")
        if url.scheme != "https" or not url.hostname:
            raise StripeSettingsError("A live Stripe key needs an https PUBLIC_URL")


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


def _id_of(value: Any) -> str:
    """The id of an expandable field: either the id string or the expanded object."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return str(stripe_field(value, "id", ""))


def _card_of(payment_method: Any) -> CardDetails | None:
    """What we may keep about a card PaymentMethod (brand, last4, expiry), or None if not a card."""
    card = stripe_field(payment_method, "card")
    if stripe_field(payment_method, "type") != "card" or card is None:
        return None
    return CardDetails(
        gateway_ref=_id_of(payment_method),
        brand=str(stripe_field(card, "brand", "unknown")),
        last4=str(stripe_field(card, "last4", "")),
        exp_month=int(stripe_field(card, "exp_month", 0)),
        exp_year=int(stripe_field(card, "exp_year", 0)),
    )


def _is_hard(decline_code: str, advice_code: str = "") -> bool:
    return decline_code in HARD_DECLINE_CODES or advice_code == "do_not_try_again"


def _decline_from_error(error: Any, gateway_ref: str, fallback_message: str = "") -> ChargeResult:
    """A Stripe error object (CardError.error or last_payment_error) as a ChargeResult."""
    code = str(stripe_field(error, "code", ""))
    decline_code = str(stripe_field(error, "decline_code", "")) or code or "generic_decline"
    message = str(stripe_field(error, "message", "")) or fallback_message
    if code == _AUTH_REQUIRED or decline_code == _AUTH_REQUIRED:
        return ChargeResult(
            ChargeOutcome.REQUIRES_ACTION, gateway_ref=gateway_ref, decline_code=_AUTH_REQUIRED, message=message
        )
    if decline_code == "card_declined":  # an error code without an issuer reason
        decline_code = "generic_decline"
    return ChargeResult(
        ChargeOutcome.DECLINED,
        gateway_ref=gateway_ref,
        decline_code=decline_code,
        message=message,
        hard=_is_hard(decline_code, str(stripe_field(error, "advice_code", ""))),
    )


def charge_result_from_intent(intent: Any) -> ChargeResult:
    """Map a PaymentIntent's current state to a ChargeResult (charge, lookup and webhooks agree).

    processing / requires_confirmation / requires_capture are not final for us: ERROR (unknown yet).
    """
    pi_id = _id_of(intent)
    status = stripe_field(intent, "status", "")
    error = stripe_field(intent, "last_payment_error")
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
            return _decline_from_error(error, pi_id)
        return ChargeResult(
            ChargeOutcome.DECLINED, gateway_ref=pi_id, decline_code=status, message="The payment did not go through."
        )
    return ChargeResult(ChargeOutcome.ERROR, gateway_ref=pi_id, message=f"The payment is still {status or 'pending'}.")


# --------------------------------------------------------------------------- the gateway


def _default_http_client(timeout: float) -> stripe.HTTPClient:
    """requests with a bounded timeout (the SDK default is 80 s, too long while a customer waits)."""
    try:
        return stripe.RequestsClient(timeout=timeout)
    except ImportError:
        return stripe.new_default_http_client()


class StripeGateway:
    """PaymentGateway over the Stripe API (see the module docstring for the error contract)."""

    name = "stripe"

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
    ):
        if not _SECRET_KEY.match(secret_key or ""):
            raise ValueError("StripeGateway needs a secret (sk_) or restricted (rk_) key")
        if max_retries < 0 or not backoff_seconds:
            raise ValueError("max_retries must be >= 0 and backoff_seconds non-empty")
        self.test_mode = key_mode(secret_key) == "test"
        self.publishable_key = publishable_key
        self._max_retries = max_retries
        self._backoff = backoff_seconds
        self._sleep = sleep
        # Retries live here, not in the SDK (max_network_retries=0): one place decides which errors
        # are retried, with which key, and when the answer becomes "unknown".
        self._client = stripe.StripeClient(
            secret_key,
            http_client=http_client or _default_http_client(timeout_seconds),
            max_network_retries=0,
        )

    @classmethod
    def from_settings(cls, settings: Any, *, http_client: stripe.HTTPClient | None = None) -> StripeGateway:
        """The gateway for a deployment, after check_stripe_settings() accepted its settings."""
        check_stripe_settings(settings)
        return cls(settings.stripe_secret_key, settings.stripe_publishable_key, http_client=http_client)

    # ----------------------------------------------------------------- retries

    def _call(self, fn: Callable[[], T]) -> T:
        """Run one API call, retrying transient failures a bounded number of times.

        Callers pass the same idempotency key on every try (POSTs), so a retry of a request that
        did reach Stripe replays its first answer instead of doing the work twice.
        """
        for attempt in range(self._max_retries + 1):
            try:
                return fn()
            except (stripe.RateLimitError, stripe.APIConnectionError) as err:
                last = err
            except stripe.APIError as err:  # 5xx, 409 (concurrent use of a key), unreadable body
                last = err
                if (err.headers or {}).get("stripe-should-retry") == "false":
                    break
            if attempt < self._max_retries:
                delay = self._backoff[min(attempt, len(self._backoff) - 1)]
                log.info("Stripe transient error (%s), retry %d in ~%.1fs", type(last).__name__, attempt + 1, delay)
                self._sleep(delay * random.uniform(0.5, 1.0))
        raise _Transient(last)

    def _read(self, fn: Callable[[], T]) -> T:
        """A call whose contract has no ERROR result: transient failures raise StripeUnavailable."""
        try:
            return self._call(fn)
        except _Transient as exc:
            raise StripeUnavailable(f"Stripe is unavailable: {exc.last.user_message or exc.last}") from exc.last
        except stripe.StripeError as err:
            raise _rejected(err) from err

    @staticmethod
    def _new_key(purpose: str) -> dict[str, str]:
        """Request options with a fresh idempotency key, reused by every retry of this one call."""
        return {"idempotency_key": f"portal-{purpose}-{uuid.uuid4()}"}

    # ----------------------------------------------------------------- customers and cards

    def create_customer(self, *, email: str, name: str, metadata: dict[str, str]) -> str:
        options = self._new_key("customer")
        params = {"email": email, "name": name, "metadata": dict(metadata or {})}
        customer = self._read(lambda: self._client.v1.customers.create(params=params, options=options))
        return customer.id

    def create_setup_intent(self, *, customer_ref: str) -> tuple[str, str]:
        """A SetupIntent for Stripe Elements: (id, client_secret). The client secret goes to the browser
        only (never into state that is persisted or logged); cards are saved for off-session charges."""
        options = self._new_key("setup")
        params = {"customer": customer_ref, "usage": "off_session", "payment_method_types": ["card"]}
        intent = self._read(lambda: self._client.v1.setup_intents.create(params=params, options=options))
        return intent.id, intent.client_secret

    def attach_card(self, *, customer_ref: str, card_input: dict[str, str]) -> SetupResult:
        """Save the card Stripe Elements collected: {"setup_intent": "seti_..."} (preferred: Stripe ran
        3DS and optimised the card for off-session use) or {"payment_method": "pm_..."}.

        Raw card data is refused with ValueError: no card number may ever reach our server. So is an
        id that is malformed or belongs to another customer (tampering or a bug, not a decline).
        """
        if not isinstance(card_input, Mapping):
            raise TypeError('card_input must be {"setup_intent": "seti_..."} or {"payment_method": "pm_..."}')
        if _RAW_CARD_KEYS & {str(k).lower() for k in card_input}:
            raise ValueError("Raw card data must never reach the server: collect the card with Stripe Elements")
        if set(card_input) == {"setup_intent"}:
            setup_ref = str(card_input["setup_intent"])
            if not _SETI_ID.match(setup_ref):
                raise ValueError("setup_intent must be a SetupIntent id (seti_...)")
            return self._finish_setup(setup_ref, expected_customer=customer_ref)
        if set(card_input) == {"payment_method"}:
            pm_id = str(card_input["payment_method"])
            if not _PM_ID.match(pm_id):
                raise ValueError("payment_method must be a PaymentMethod id (pm_...)")
            return self._attach_payment_method(customer_ref, pm_id)
        raise ValueError('card_input must be exactly {"setup_intent": ...} or {"payment_method": ...}')

    def confirm_setup(self, *, setup_ref: str, approved: bool) -> SetupResult:
        """Report a SetupIntent's state after the browser ran 3DS with Stripe.js.

        `approved` is ignored: it is the simulated gateway's stand-in for the bank's answer, while
        with Stripe the bank answered Stripe directly and the SetupIntent says what happened.
        """
        if not _SETI_ID.match(setup_ref or ""):
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
        intent = self._read(
            lambda: self._client.v1.setup_intents.retrieve(setup_ref, params={"expand": ["payment_method"]})
        )
        customer_ref = _id_of(stripe_field(intent, "customer"))
        status = stripe_field(intent, "status", "")
        if status == "succeeded":
            card = _card_of(stripe_field(intent, "payment_method"))
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
            code = str(stripe_field(error, "decline_code", "") or stripe_field(error, "code", "generic_decline"))
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
            pm = self._call(lambda: self._client.v1.payment_methods.retrieve(pm_id))
            owner = _id_of(stripe_field(pm, "customer"))
            if owner and owner != customer_ref:
                raise ValueError("This PaymentMethod belongs to another customer")
            card = _card_of(pm)
            if card is None:
                raise ValueError("Only card PaymentMethods can be saved")
            if not owner:
                options = self._new_key("attach")
                self._call(
                    lambda: self._client.v1.payment_methods.attach(
                        pm_id, params={"customer": customer_ref}, options=options
                    )
                )
        except _Transient as exc:
            return SetupResult(SetupOutcome.ERROR, message=f"Stripe is unavailable: {exc.last.user_message}")
        except stripe.CardError as err:  # attaching can run a verification the bank declines
            code = str(stripe_field(err.error, "decline_code", "")) or err.code or "card_declined"
            return SetupResult(SetupOutcome.DECLINED, decline_code=code, message=err.user_message or "")
        except stripe.InvalidRequestError as err:
            if err.code == "resource_missing":
                return SetupResult(
                    SetupOutcome.DECLINED, decline_code="resource_missing", message=err.user_message or ""
                )
            raise _rejected(err) from err
        except stripe.StripeError as err:
            raise _rejected(err) from err
        return self._make_default(customer_ref, pm_id) or SetupResult(SetupOutcome.SUCCEEDED, card=card)

    def _make_default(self, customer_ref: str, pm_id: str) -> SetupResult | None:
        """Make the card the customer's default at Stripe (what the Dashboard shows); None when done.

        Our engine passes the card explicitly on every charge, so this is bookkeeping, but a failure
        still reports ERROR: the caller retries the whole (idempotent) save.
        """
        options = self._new_key("default")
        params = {"invoice_settings": {"default_payment_method": pm_id}}
        try:
            self._call(lambda: self._client.v1.customers.update(customer_ref, params=params, options=options))
        except _Transient as exc:
            return SetupResult(SetupOutcome.ERROR, message=f"Stripe is unavailable: {exc.last.user_message}")
        except stripe.StripeError as err:
            raise _rejected(err) from err
        return None

    def card_details(self, pm_id: str) -> CardDetails | None:
        """A PaymentMethod's card as Stripe knows it now (after a card-network update, say)."""
        if not _PM_ID.match(pm_id or ""):
            raise ValueError("pm_id must be a PaymentMethod id (pm_...)")
        return _card_of(self._read(lambda: self._client.v1.payment_methods.retrieve(pm_id)))

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
        if not idempotency_key or not _IDEMPOTENCY_KEY.match(idempotency_key):
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
            intent = self._call(lambda: self._client.v1.payment_intents.create(params=params, options=options))
        except _Transient as exc:
            log.warning("charge %s: outcome unknown after retries: %r", idempotency_key, exc.last)
            return ChargeResult(ChargeOutcome.ERROR, message=_UNKNOWN_OUTCOME)
        except stripe.CardError as err:
            pi = stripe_field(err.error, "payment_intent")
            return _decline_from_error(err.error, _id_of(pi), err.user_message or "Your card was declined.")
        except stripe.IdempotencyError as err:
            raise IdempotencyKeyReused(f"idempotency key {idempotency_key!r} was used for a different charge") from err
        except stripe.InvalidRequestError as err:
            if err.code == "resource_missing":  # card detached / customer deleted: only a new card helps
                return ChargeResult(
                    ChargeOutcome.DECLINED, decline_code="resource_missing", message=err.user_message or "", hard=True
                )
            raise _rejected(err) from err
        except stripe.StripeError as err:
            raise _rejected(err) from err
        return charge_result_from_intent(intent)

    def lookup_charge(self, *, idempotency_key: str) -> ChargeResult | None:
        """The PaymentIntent created under this key, found by its metadata, or None.

        Stripe's search is eventually consistent (usually under a minute, up to an hour during
        outages): None means "not found yet", so only trust it for attempts older than that; the
        engine settles only attempts past its grace period. Raises StripeUnavailable when Stripe
        cannot be asked (the engine keeps the attempt unknown).
        """
        if not idempotency_key or not _IDEMPOTENCY_KEY.match(idempotency_key):
            raise ValueError("idempotency_key must be 1-255 characters of [A-Za-z0-9_.:-]")
        query = f"metadata['idempotency_key']:'{idempotency_key}'"
        found = self._read(lambda: self._client.v1.payment_intents.search(params={"query": query, "limit": 10}))
        intents = list(stripe_field(found, "data", []))
        if not intents:
            return None
        # One key creates one PaymentIntent; should there be more (a key reused after Stripe forgot
        # it, 24 h later), a success wins: the money moved.
        return charge_result_from_intent(
            max(intents, key=lambda pi: (stripe_field(pi, "status") == "succeeded", stripe_field(pi, "created", 0)))
        )

    def charge_status(self, pi_id: str) -> tuple[str, ChargeResult]:
        """(our idempotency key from metadata, current result) of a PaymentIntent; "" when not ours."""
        if not _PI_ID.match(pi_id or ""):
            raise ValueError("pi_id must be a PaymentIntent id (pi_...)")
        intent = self._read(lambda: self._client.v1.payment_intents.retrieve(pi_id))
        key = str(stripe_field(stripe_field(intent, "metadata"), "idempotency_key", ""))
        return key, charge_result_from_intent(intent)

    def payment_client_secret(self, pi_id: str) -> str:
        """The client secret the portal hands to Stripe.js so the customer can authenticate a
        REQUIRES_ACTION payment on-session (confirmCardPayment). Never log or persist it."""
        if not _PI_ID.match(pi_id or ""):
            raise ValueError("pi_id must be a PaymentIntent id (pi_...)")
        intent = self._read(lambda: self._client.v1.payment_intents.retrieve(pi_id))
        return str(stripe_field(intent, "client_secret", ""))


def _rejected(err: stripe.StripeError) -> Exception:
    """Our exception for a request Stripe refused (never a card decline)."""
    if isinstance(err, stripe.IdempotencyError):
        return IdempotencyKeyReused(err.user_message or "idempotency key reused with different parameters")
    return StripeRequestRejected(
        f"Stripe refused the request ({type(err).__name__}): {err.user_message or ''}",
        code=err.code or "",
        http_status=err.http_status,
        request_id=err.request_id or "",
    )
