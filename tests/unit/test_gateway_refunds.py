"""Refunds through both gateways: the same key never refunds twice, failures are results, and the Stripe
gateway sends Refund.create with its Idempotency-Key (offline, through the real SDK and StubStripeHTTP)."""

from __future__ import annotations

import inspect
import multiprocessing

import pytest

from portal_app.billing.gateways.base import ChargeOutcome, IdempotencyKeyReused, PaymentGateway
from portal_app.billing.gateways.simulated import SimulatedGateway
from portal_app.billing.gateways.stripe.gateway import StripeGateway
from tests.builders import card
from tests.stripe_stubs import KEY, PI, SECRET, StubStripeHTTP, api_error, payment_intent, refund_object

REFUND_KEY = KEY + "-refund"


@pytest.fixture
def http() -> StubStripeHTTP:
    stub = StubStripeHTTP()
    yield stub
    assert not stub.script, f"scripted responses never requested: {list(stub.script)}"


@pytest.fixture
def gw(http) -> StripeGateway:
    return StripeGateway(SECRET, "pk_test_51Tst", http_client=http, sleep=lambda _s: None)


def _refund(gateway, **overrides):
    args = dict(
        gateway_ref=PI, amount_minor=2900, currency="USD", idempotency_key=REFUND_KEY, reason="requested_by_customer"
    )
    return gateway.refund(**(args | overrides))


def test_refund_is_in_the_protocol_with_the_same_signature_in_both_gateways():
    expected = list(inspect.signature(PaymentGateway.refund).parameters)
    assert expected == ["self", "gateway_ref", "amount_minor", "currency", "idempotency_key", "reason"]
    assert list(inspect.signature(StripeGateway.refund).parameters) == expected
    assert list(inspect.signature(SimulatedGateway.refund).parameters) == expected


def test_stripe_refund_sends_refund_create_with_the_idempotency_key(gw, http):
    http.reply("POST", "/v1/refunds", refund_object("succeeded"))

    result = _refund(gw)

    assert result.succeeded and result.gateway_ref == "re_3Qrefund0000001"
    (sent,) = http.sent
    assert sent.headers["Idempotency-Key"] == REFUND_KEY
    assert sent.form == {
        "payment_intent": PI,
        "amount": "2900",
        "reason": "requested_by_customer",
        "metadata[idempotency_key]": REFUND_KEY,
    }


def test_stripe_refund_failures_are_results_and_retries_keep_the_key(gw, http):
    http.reply("POST", "/v1/refunds", refund_object("failed"))
    failed = _refund(gw)
    assert not failed.succeeded and "lost_or_stolen_card" in failed.message

    http.reply("POST", "/v1/refunds", api_error("api_error", "Something went wrong"), status=500)
    http.reply("POST", "/v1/refunds", refund_object("pending"))
    assert _refund(gw).succeeded  # pending at the bank: accepted
    assert {r.headers["Idempotency-Key"] for r in http.sent[1:]} == {REFUND_KEY}

    http.reply(
        "POST", "/v1/refunds", api_error("invalid_request_error", "Already refunded", "charge_already_refunded"), 400
    )
    assert _refund(gw).succeeded

    http.reply(
        "POST", "/v1/refunds", api_error("invalid_request_error", "No such payment_intent", "resource_missing"), 404
    )
    assert not _refund(gw).succeeded


def test_stripe_unavailable_is_an_unknown_outcome_not_a_refusal(gw, http):
    """No answer may mean "done": refunding.py keeps such a refund unknown and replays the same key."""
    http.reply(
        "POST",
        "/v1/refunds",
        api_error("api_error", "Overloaded"),
        status=500,
        headers={"stripe-should-retry": "false"},
    )
    result = _refund(gw)
    assert not result.succeeded and result.unknown
    http.reply("POST", "/v1/refunds", refund_object("failed"))
    assert not _refund(gw).unknown  # a refusal is a fact


def test_simulated_refund_timeouts_are_unknown_and_a_replay_tells(sim):
    ref = _charged(sim)
    sim.timeout_next_refund()  # done at the gateway, the answer lost
    lost = _refund(sim, gateway_ref=ref)
    assert lost.unknown and sim.refunds() == [(ref, 2900, "USD")]
    replay = _refund(sim, gateway_ref=ref)
    assert replay.succeeded and not replay.unknown and len(sim.refunds()) == 1
    sim.timeout_next_refund(reached_gateway=False)
    assert _refund(sim, gateway_ref=ref, idempotency_key="k-refund-2").unknown


@pytest.mark.parametrize(
    "overrides",
    [{"gateway_ref": "pi_x\n"}, {"amount_minor": 0}, {"reason": "because"}, {"idempotency_key": "bad key"}],
)
def test_stripe_refund_refuses_caller_bugs_before_any_request(gw, http, overrides):
    with pytest.raises(ValueError):
        _refund(gw, **overrides)
    assert http.sent == []


def test_a_succeeded_intent_reports_what_it_charged(gw, http):
    http.reply("GET", f"/v1/payment_intents/{PI}", payment_intent("succeeded", amount=500, currency="isk"))
    _key, result = gw.charge_status(PI)
    assert result.outcome is ChargeOutcome.SUCCEEDED
    assert (result.amount_minor, result.currency, result.customer_ref) == (5, "ISK", "cus_T1a2b3c4d5")


# --------------------------------------------------------------------------- simulated


@pytest.fixture
def sim():
    gateway = SimulatedGateway()
    gateway.reset()
    yield gateway
    gateway.reset()


def _charged(sim, amount_minor=2900):
    customer = sim.create_customer(email="a@example.com", name="A", metadata={})
    setup = sim.attach_card(
        customer_ref=customer,
        card_input=card(),
    )
    charge = sim.charge(
        customer_ref=customer,
        payment_method_ref=setup.card.gateway_ref,
        amount_minor=amount_minor,
        currency="USD",
        idempotency_key="k-charge-1",
    )
    assert charge.succeeded
    return charge.gateway_ref


def test_simulated_refund_once_per_key_and_never_more_than_charged(sim):
    ref = _charged(sim)

    first = _refund(sim, gateway_ref=ref)
    again = _refund(sim, gateway_ref=ref)

    assert first.succeeded and first == again
    assert sim.refunds() == [(ref, 2900, "USD")]
    assert not _refund(sim, gateway_ref=ref, idempotency_key="k-refund-2").succeeded  # nothing left to refund
    with pytest.raises(IdempotencyKeyReused):
        _refund(sim, gateway_ref=ref, amount_minor=100)
    assert not _refund(sim, gateway_ref="ch_sim_NOSUCHCHARGE0000", idempotency_key="k-refund-3").succeeded


def test_simulated_refund_can_be_scripted_to_fail(sim):
    ref = _charged(sim)
    sim.fail_next_refund()
    assert not _refund(sim, gateway_ref=ref).succeeded
    assert sim.refunds() == []
    assert _refund(sim, gateway_ref=ref, idempotency_key="k-refund-2").succeeded


# --------------------------------------------------------------------------- simulated, on disk


def _after_a_restart(path: str, ref: str, answers) -> None:
    """A new process (a restart, another worker): nothing in memory, the same file."""
    gateway = SimulatedGateway(store_path=path)
    replay = _refund(gateway, gateway_ref=ref)
    another_key = _refund(gateway, gateway_ref=ref, idempotency_key="k-refund-2")
    try:
        _refund(gateway, gateway_ref=ref, amount_minor=100)
        reused = "accepted"
    except IdempotencyKeyReused:
        reused = "refused"
    answers.put((replay, another_key, reused, gateway.refunds()))


def _in_a_fresh_process(target, *args):
    context = multiprocessing.get_context("spawn")
    answers = context.Queue()
    process = context.Process(target=target, args=(*args, answers))
    process.start()
    answer = answers.get(timeout=120)
    process.join(timeout=60)
    assert process.exitcode == 0
    return answer


def test_a_restarted_simulated_gateway_replays_a_refund_and_never_refunds_twice(tmp_path):
    path = str(tmp_path / "gateway.db")
    gateway = SimulatedGateway(store_path=path)
    ref = _charged(gateway)
    first = _refund(gateway, gateway_ref=ref)
    assert first.succeeded

    replay, another_key, reused, refunds = _in_a_fresh_process(_after_a_restart, path, ref)

    assert replay == first  # the first result, nothing refunded again
    assert not another_key.succeeded  # nothing left to refund
    assert reused == "refused"
    assert refunds == [(ref, 2900, "USD")] == gateway.refunds()
    gateway.reset()
    assert gateway.refunds() == []


def _refund_in_another_process(path: str, ref: str, key: str, start, answers) -> None:
    gateway = SimulatedGateway(store_path=path)
    start.wait(timeout=60)
    answers.put((key, _refund(gateway, gateway_ref=ref, idempotency_key=key).succeeded))


def test_two_processes_refunding_all_of_one_charge_refund_it_once(tmp_path):
    path = str(tmp_path / "gateway.db")
    parent = SimulatedGateway(store_path=path)
    ref = _charged(parent)
    context = multiprocessing.get_context("spawn")
    start, answers = context.Barrier(2), context.Queue()
    workers = [
        context.Process(target=_refund_in_another_process, args=(path, ref, f"k-refund-{n}", start, answers))
        for n in (1, 2)
    ]
    for worker in workers:
        worker.start()
    outcomes = dict(answers.get(timeout=120) for _ in workers)
    for worker in workers:
        worker.join(timeout=60)
        assert worker.exitcode == 0

    assert sorted(outcomes.values()) == [False, True]
    assert parent.refunds() == [(ref, 2900, "USD")]
    parent.reset()
