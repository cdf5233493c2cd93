"""The real Stripe adapter (SDK 16.1.0, requests, our retry policy) against localstripe, a stateful
Stripe API mock, through STRIPE_API_BASE: what the stubbed tests (tests/stripe_stubs.py) cannot show is
that the requests the adapter builds are ones a Stripe-shaped server accepts and that its answers map
back to our results.

localstripe runs in its own venv (`make localstripe`, tools/localstripe-venv, pinned with hashes) on a
free loopback port, started once per session by tests/integration/localstripe_launcher.py (loopback
only, store in memory). Without that venv the tier skips with a reason.

Card numbers are Stripe's test numbers and go only to the mock, where the test plays Stripe.js
(PaymentMethods created, SetupIntents confirmed and 3DS "authenticated" by the browser's side); the
adapter only ever sees pm_/seti_/pi_ ids. localstripe's decline numbers: 4000000000000002 declines
when the card is saved, 4000000000000341 saves and declines when charged, 4000002500003155 asks for 3DS.

What localstripe 1.15.10 does not do, and so stays covered by the stubbed unit tests
(tests/unit/test_stripe_gateway.py, test_stripe_elements.py, test_stripe_webhooks.py):
  * Idempotency-Key replays: the mock ignores the header (a second request under a key makes a second
    PaymentIntent). Here we only check that the key goes out on the wire; the stubs script the replay,
    the 409 of a key in flight and the idempotency_error of a key reused with other parameters.
  * payment_intents/search (lookup_charge): not implemented (404).
  * Off-session 3DS as Stripe answers it (402 authentication_required): localstripe answers a
    requires_action PaymentIntent instead; both map to REQUIRES_ACTION, the stubs cover the 402. Its 3DS
    challenge for SetupIntents cannot be completed (no endpoint), nor redirect_to_url next actions.
  * decline_code, advice_code and the PaymentIntent id on card errors (hard declines, "do not try
    again"): every localstripe decline is a bare card_declined. Nor error codes on other errors: its
    404 has no resource_missing, so a detached card or deleted customer (our hard decline) is stubbed.
  * Transient failures (timeouts, 429, 5xx, stripe-should-retry) and webhook signatures and events
    (localstripe signs webhooks its own way, not Stripe-Signature v1).
  * PaymentIntent `description` and Refund `reason`, which localstripe refuses as "Unexpected": the
    launcher makes it accept and store them (no other change; see its docstring).
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import time
from pathlib import Path

import pytest
import requests
import stripe

from portal_app.billing.gateways import make_gateway
from portal_app.billing.gateways.base import ChargeOutcome, SetupOutcome, is_hard_decline
from portal_app.billing.gateways.stripe.errors import StripeRequestRejected
from portal_app.billing.gateways.stripe.gateway import StripeGateway
from portal_app.billing.payments.attempts import PaymentOutcome
from portal_app.billing.payments.card_updates import CardUpdateOutcome, update_payment_method
from portal_app.billing.statuses import AttemptStatus, InvoiceStatus
from portal_app.billing.subscriptions import subscribe
from portal_app.models import PaymentAttempt, Subscriber
from portal_app.settings import Settings
from tests.builders import JAN31, invoices_of, make_world, rows

ROOT = Path(__file__).resolve().parents[2]
VENV = ROOT / "tools" / "localstripe-venv"
LAUNCHER = Path(__file__).with_name("localstripe_launcher.py")

SECRET = "sk_test_51Localstripe0000000000"
PUBLISHABLE = "pk_test_51Localstripe0000000000"
VISA = "4242424242424242"
DECLINED_ON_SAVE = "4000000000000002"
DECLINED_ON_CHARGE = "4000000000000341"
THREE_DS = "4000002500003155"

pytestmark = pytest.mark.integration


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def localstripe_url():
    """The base address of a localstripe started for this session (skips when it is not installed)."""
    if not (VENV / "bin" / "localstripe").exists():
        pytest.skip(f"localstripe is not installed in {VENV.relative_to(ROOT)}: run `make localstripe`")
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen(
        [str(VENV / "bin" / "python"), str(LAUNCHER), "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60  # a startup bound, not a timing assertion
        while True:
            if proc.poll() is not None:
                pytest.fail(f"localstripe exited with {proc.returncode}: {proc.stdout.read()}")
            with contextlib.suppress(requests.ConnectionError):
                if requests.get(f"{base}/v1/balance", auth=(SECRET, ""), timeout=2).ok:
                    break
            if time.monotonic() > deadline:
                pytest.fail("localstripe did not answer on its port")
            time.sleep(0.1)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture
def settings(localstripe_url) -> Settings:
    return Settings(
        _env_file=None,
        gateway="stripe",
        environment="test",
        stripe_secret_key=SECRET,
        stripe_publishable_key=PUBLISHABLE,
        stripe_webhook_secret="whsec_Localstripe",
        stripe_api_base=localstripe_url + "/",
    )


@pytest.fixture
def gw(settings) -> StripeGateway:
    """The deployment's gateway, built from settings exactly as the app builds it."""
    return make_gateway(settings)


@pytest.fixture
def mock(localstripe_url):
    """The mock read and driven directly (as Stripe.js or the Dashboard would), never through the adapter."""
    return stripe.StripeClient(SECRET, base_addresses={"api": localstripe_url}, max_network_retries=0).v1


def browser_card(mock, number: str) -> str:
    """What Stripe.js does with a typed card: a PaymentMethod at Stripe (here the mock); we get its id."""
    card = {"number": number, "exp_month": 12, "exp_year": 2030, "cvc": "123"}
    return mock.payment_methods.create(params={"type": "card", "card": card}).id


def browser_confirms_setup(localstripe_url, setup_ref: str, client_secret: str, number: str) -> requests.Response:
    """Stripe.js's confirmCardSetup: publishable key and client secret only, as in the browser."""
    return requests.post(
        f"{localstripe_url}/v1/setup_intents/{setup_ref}/confirm",
        data={
            "key": PUBLISHABLE,
            "client_secret": client_secret,
            "payment_method_data[type]": "card",
            "payment_method_data[card][number]": number,
            "payment_method_data[card][exp_month]": "12",
            "payment_method_data[card][exp_year]": "2030",
            "payment_method_data[card][cvc]": "123",
        },
        timeout=10,
    )


def saved_card(gw, mock, number: str = VISA) -> tuple[str, str]:
    customer = gw.create_customer(email="ada@example.com", name="Ada Lovelace", metadata={"subscriber_id": "1"})
    result = gw.attach_card(customer_ref=customer, card_input={"payment_method": browser_card(mock, number)})
    assert result.outcome is SetupOutcome.SUCCEEDED, result
    return customer, result.card.gateway_ref


# --------------------------------------------------------------------------- settings and customers


def test_stripe_api_base_sends_the_adapter_to_the_mock(gw, mock):
    customer = gw.create_customer(email="ada@example.com", name="Ada Lovelace", metadata={"subscriber_id": "7"})
    stored = mock.customers.retrieve(customer)  # it exists at the mock: the calls went there
    assert (stored.email, stored.name, stored.metadata.to_dict()) == (
        "ada@example.com",
        "Ada Lovelace",
        {"subscriber_id": "7"},
    )


# --------------------------------------------------------------------------- saving cards


def test_a_card_saved_in_stripe_elements_through_a_setup_intent(gw, mock, localstripe_url):
    customer = gw.create_customer(email="ada@example.com", name="Ada Lovelace", metadata={})
    setup_ref, client_secret = gw.create_setup_intent(customer_ref=customer)
    assert setup_ref.startswith("seti_") and client_secret.startswith(setup_ref + "_secret_")
    assert browser_confirms_setup(localstripe_url, setup_ref, client_secret, VISA).ok

    result = gw.attach_card(customer_ref=customer, card_input={"setup_intent": setup_ref})

    assert result.outcome is SetupOutcome.SUCCEEDED
    card = result.card
    assert (card.brand, card.last4, card.exp_month, card.exp_year) == ("visa", "4242", 12, 2030)
    # made the customer's default at Stripe, what the Dashboard shows
    assert mock.customers.retrieve(customer).invoice_settings.default_payment_method == card.gateway_ref


def test_a_setup_intent_of_another_customer_is_refused(gw, mock, localstripe_url):
    owner = gw.create_customer(email="ada@example.com", name="Ada", metadata={})
    other = gw.create_customer(email="eve@example.com", name="Eve", metadata={})
    setup_ref, client_secret = gw.create_setup_intent(customer_ref=owner)
    assert browser_confirms_setup(localstripe_url, setup_ref, client_secret, VISA).ok
    with pytest.raises(ValueError, match="another customer"):
        gw.attach_card(customer_ref=other, card_input={"setup_intent": setup_ref})


def test_a_payment_method_is_attached_to_the_customer(gw, mock):
    customer, pm = saved_card(gw, mock)
    assert mock.payment_methods.retrieve(pm).customer == customer
    assert mock.customers.retrieve(customer).invoice_settings.default_payment_method == pm


def test_a_card_the_bank_declines_when_saved_maps_to_a_generic_decline(gw, mock):
    customer = gw.create_customer(email="ada@example.com", name="Ada", metadata={})
    result = gw.attach_card(customer_ref=customer, card_input={"payment_method": browser_card(mock, DECLINED_ON_SAVE)})
    assert (result.outcome, result.decline_code, result.card) == (SetupOutcome.DECLINED, "generic_decline", None)
    assert mock.customers.retrieve(customer).invoice_settings.default_payment_method is None


# --------------------------------------------------------------------------- charges and refunds


class RecordingClient(stripe.RequestsClient):
    """The SDK's real requests client, noting each request's method, path and headers."""

    def __init__(self):
        super().__init__(timeout=10)
        self.sent: list[tuple[str, str, dict]] = []

    def request(self, method, url, headers, post_data=None):
        self.sent.append((method.upper(), requests.utils.urlparse(url).path, dict(headers)))
        return super().request(method, url, headers, post_data)


def test_an_off_session_charge_succeeds_with_our_key_on_the_wire_and_in_metadata(localstripe_url, mock):
    wire = RecordingClient()
    gw = StripeGateway(SECRET, PUBLISHABLE, http_client=wire, api_base=localstripe_url)
    customer, pm = saved_card(gw, mock)
    key = "m1-20260131093000000000-attempt-1"

    result = gw.charge(
        customer_ref=customer,
        payment_method_ref=pm,
        amount_minor=2900,
        currency="USD",
        idempotency_key=key,
        description="FIT-2026-000001",
    )

    assert result.outcome is ChargeOutcome.SUCCEEDED and result.gateway_ref.startswith("pi_")
    assert (result.amount_minor, result.currency, result.customer_ref) == (2900, "USD", customer)
    posts = [headers for method, path, headers in wire.sent if (method, path) == ("POST", "/v1/payment_intents")]
    assert [h.get("Idempotency-Key") for h in posts] == [key]
    intent = mock.payment_intents.retrieve(result.gateway_ref)
    assert (intent.status, intent.amount, intent.currency, intent.payment_method) == ("succeeded", 2900, "usd", pm)
    assert (intent.metadata["idempotency_key"], intent.description) == (key, "FIT-2026-000001")
    # charge_status (settlement's retrieve) reads it back as ours
    assert gw.charge_status(result.gateway_ref) == (key, result)


def test_zero_decimal_amounts_reach_stripe_unscaled(gw, mock):
    customer, pm = saved_card(gw, mock)
    result = gw.charge(
        customer_ref=customer, payment_method_ref=pm, amount_minor=500, currency="JPY", idempotency_key="jpy-1"
    )
    assert result.succeeded and (result.amount_minor, result.currency) == (500, "JPY")
    assert mock.payment_intents.retrieve(result.gateway_ref).amount == 500


def test_a_charge_the_bank_declines_maps_to_a_soft_generic_decline(gw, mock):
    customer, pm = saved_card(gw, mock, DECLINED_ON_CHARGE)
    result = gw.charge(
        customer_ref=customer, payment_method_ref=pm, amount_minor=2900, currency="USD", idempotency_key="decl-1"
    )
    assert (result.outcome, result.decline_code, result.hard) == (ChargeOutcome.DECLINED, "generic_decline", False)
    assert result.message == "Your card was declined."
    assert not is_hard_decline(result.decline_code)  # dunning retries it


def test_a_3ds_charge_waits_for_the_customer_then_succeeds(gw, mock, localstripe_url):
    customer, pm = saved_card(gw, mock, THREE_DS)
    result = gw.charge(
        customer_ref=customer, payment_method_ref=pm, amount_minor=2900, currency="USD", idempotency_key="3ds-1"
    )
    assert (result.outcome, result.decline_code) == (ChargeOutcome.REQUIRES_ACTION, "authentication_required")
    assert gw.charge_status(result.gateway_ref)[1].outcome is ChargeOutcome.REQUIRES_ACTION

    # The portal hands the client secret to Stripe.js, the customer passes the bank's challenge.
    client_secret = gw.payment_client_secret(result.gateway_ref)
    answer = requests.post(
        f"{localstripe_url}/v1/payment_intents/{result.gateway_ref}/_authenticate",
        data={"key": PUBLISHABLE, "client_secret": client_secret, "success": "true"},
        timeout=10,
    )
    assert answer.ok, answer.text

    key, now = gw.charge_status(result.gateway_ref)
    assert (key, now.outcome, now.amount_minor) == ("3ds-1", ChargeOutcome.SUCCEEDED, 2900)


def test_a_partial_refund_then_the_rest_and_a_failed_payment_cannot_be_refunded(gw, mock):
    customer, pm = saved_card(gw, mock)
    charged = gw.charge(
        customer_ref=customer, payment_method_ref=pm, amount_minor=2900, currency="USD", idempotency_key="ref-1"
    )
    first = gw.refund(
        gateway_ref=charged.gateway_ref,
        amount_minor=900,
        currency="USD",
        idempotency_key="ref-1-r1",
        reason="duplicate",
    )
    assert first.succeeded and first.gateway_ref.startswith("re_")
    refund = mock.refunds.retrieve(first.gateway_ref)
    assert (refund.amount, refund.payment_intent, refund.reason) == (900, charged.gateway_ref, "duplicate")
    assert refund.metadata["idempotency_key"] == "ref-1-r1"

    rest = gw.refund(
        gateway_ref=charged.gateway_ref,
        amount_minor=2000,
        currency="USD",
        idempotency_key="ref-1-r2",
        reason="requested_by_customer",
    )
    assert rest.succeeded
    intent = mock.payment_intents.retrieve(charged.gateway_ref, params={"expand": ["latest_charge"]})
    assert (intent.latest_charge.amount_refunded, intent.latest_charge.refunded) == (2900, True)

    _c, bad_pm = saved_card(gw, mock, DECLINED_ON_CHARGE)
    declined = gw.charge(
        customer_ref=_c, payment_method_ref=bad_pm, amount_minor=2900, currency="USD", idempotency_key="ref-2"
    )
    # localstripe's card error names no PaymentIntent: find the failed one through its charge
    (failed_charge,) = mock.charges.list(params={"customer": _c}).data
    failed_pi = failed_charge.payment_intent
    assert declined.outcome is ChargeOutcome.DECLINED and failed_pi != charged.gateway_ref
    refused = gw.refund(
        gateway_ref=failed_pi, amount_minor=2900, currency="USD", idempotency_key="ref-2-r1", reason="duplicate"
    )
    assert (refused.succeeded, refused.message) == (False, "Cannot refund a failed payment.")


def test_lookup_charge_is_not_served_by_localstripe(gw):
    """Search is not implemented there (see the module docstring): the adapter raises, never guesses."""
    with pytest.raises(StripeRequestRejected):
        gw.lookup_charge(idempotency_key="never-used-1")


# --------------------------------------------------------------------------- the engine on top


def test_the_engine_saves_a_card_and_charges_the_first_invoice_at_the_mock(engine, gw, mock):
    world = make_world(engine)
    saved = update_payment_method(
        engine,
        merchant_id=world.merchant_id,
        subscriber_id=world.subscriber_id,
        card_input={"payment_method": browser_card(mock, VISA)},
        gateway=gw,
        now=JAN31,
    )
    assert saved.outcome is CardUpdateOutcome.UPDATED, saved

    result = subscribe(
        engine,
        merchant_id=world.merchant_id,
        subscriber_id=world.subscriber_id,
        plan_id=world.plan_id,
        start_at=JAN31,
        gateway=gw,
    )

    assert result.charge.outcome is PaymentOutcome.SUCCEEDED
    (invoice,) = invoices_of(world)
    assert invoice.status == InvoiceStatus.PAID
    (attempt,) = rows(engine, PaymentAttempt, PaymentAttempt.invoice_id == invoice.id)
    (subscriber,) = rows(engine, Subscriber, Subscriber.id == world.subscriber_id)
    assert (attempt.status, attempt.gateway, attempt.customer_ref) == (
        AttemptStatus.SUCCEEDED,
        "stripe",
        subscriber.gateway_customer_id,
    )
    intent = mock.payment_intents.retrieve(attempt.gateway_ref)
    assert (intent.status, intent.amount, intent.currency, intent.customer) == (
        "succeeded",
        invoice.total_minor,
        "usd",
        subscriber.gateway_customer_id,
    )
    key, found = gw.charge_status(attempt.gateway_ref)
    assert key.endswith(f"-attempt-{attempt.id}") and found.succeeded


def test_the_engine_records_a_bank_decline_from_the_mock_as_a_soft_decline(engine, gw, mock):
    world = make_world(engine)
    update_payment_method(
        engine,
        merchant_id=world.merchant_id,
        subscriber_id=world.subscriber_id,
        card_input={"payment_method": browser_card(mock, DECLINED_ON_CHARGE)},
        gateway=gw,
        now=JAN31,
    )
    result = subscribe(
        engine,
        merchant_id=world.merchant_id,
        subscriber_id=world.subscriber_id,
        plan_id=world.plan_id,
        start_at=JAN31,
        gateway=gw,
    )
    assert result.charge.outcome is PaymentOutcome.DECLINED
    (invoice,) = invoices_of(world)
    assert invoice.status == InvoiceStatus.OPEN
    (attempt,) = rows(engine, PaymentAttempt, PaymentAttempt.invoice_id == invoice.id)
    assert (attempt.status, attempt.decline_code, attempt.hard_decline) == (
        AttemptStatus.FAILED,
        "generic_decline",
        False,
    )
