"""The simulated gateway behaves like Stripe test mode and never keeps a card number."""

from __future__ import annotations

import dataclasses
import inspect
import pickle
import threading
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest

from portal_app.billing.card_numbers import luhn_valid
from portal_app.billing.gateways import simulated
from portal_app.billing.gateways.base import (
    CardDetails,
    CardEntry,
    CardEntryNotSupported,
    ChargeOutcome,
    IdempotencyKeyReused,
    PaymentGateway,
    SetupOutcome,
)
from portal_app.billing.gateways.simulated import SimulatedGateway
from portal_app.billing.gateways.simulated_cards import TEST_CARDS, CardRefusal, format_test_card
from portal_app.billing.gateways.simulated_tokens import CardRefused, tokenize_card

NEXT_YEAR = str(datetime.now(UTC).year + 1)
IN_FIVE_YEARS = datetime.now(UTC).year + 5


@pytest.fixture
def gw() -> SimulatedGateway:
    gateway = SimulatedGateway()
    gateway.reset()
    yield gateway
    gateway.reset()


@pytest.fixture
def customer(gw) -> str:
    return gw.create_customer(email="ana@example.com", name="Ana", metadata={"subscriber_id": "1"})


def typed(number: str, *, month: str = "12", year: str = NEXT_YEAR, cvc: str | None = None) -> dict[str, str]:
    """A card as a person types it into the card component (goes to the tokenizer only)."""
    if cvc is None:
        cvc = "1234" if number.replace(" ", "").startswith(("34", "37")) else "123"
    return {"number": number, "exp_month": month, "exp_year": year, "cvc": cvc}


def card(number: str, **typing) -> dict[str, str]:
    """attach_card's input: the card tokenized like the browser does it."""
    return {"payment_method": tokenize_card(typed(number, **typing)).id}


def refused(number: str, **typing) -> CardRefusal:
    """The tokenizer's refusal of this card (Stripe's card_error)."""
    with pytest.raises(CardRefused) as err:
        tokenize_card(typed(number, **typing))
    return err.value.refusal


def saved(gw, customer, number: str) -> CardDetails:
    result = gw.attach_card(customer_ref=customer, card_input=card(number))
    if result.outcome is SetupOutcome.REQUIRES_ACTION:
        result = gw.confirm_setup(setup_ref=result.setup_ref, approved=True)
    assert result.outcome is SetupOutcome.SUCCEEDED, result
    return result.card


def charge(gw, customer, pm: str, key: str, amount: int = 2900, currency: str = "USD"):
    return gw.charge(
        customer_ref=customer, payment_method_ref=pm, amount_minor=amount, currency=currency, idempotency_key=key
    )


# --------------------------------------------------------------------------- identity


def test_implements_the_protocol_in_test_mode():
    gateway: PaymentGateway = SimulatedGateway()
    assert gateway.name == "simulated" and gateway.test_mode is True
    declared = [n for n, m in vars(PaymentGateway).items() if not n.startswith("_") and inspect.isfunction(m)]
    assert "create_setup_intent" in declared
    for method in declared:
        expected = inspect.signature(getattr(PaymentGateway, method)).parameters
        assert list(inspect.signature(getattr(SimulatedGateway, method)).parameters) == list(expected), method


def test_cards_come_from_our_form_so_browser_card_entry_is_refused():
    gateway = SimulatedGateway()
    assert gateway.card_entry is CardEntry.FORM and gateway.publishable_key == ""
    with pytest.raises(CardEntryNotSupported):
        gateway.create_setup_intent(customer_ref="cus_sim_x")
    with pytest.raises(CardEntryNotSupported):
        gateway.payment_client_secret("pi_x")


@pytest.mark.parametrize("key", ["sk_live_abc", "rk_live_abc", " sk_live_padded"])
def test_refuses_a_live_stripe_key(key):
    with pytest.raises(RuntimeError, match="live Stripe key"):
        SimulatedGateway(stripe_secret_key=key)


@pytest.mark.parametrize("key", ["", "sk_test_abc", "rk_test_abc"])
def test_accepts_no_key_or_a_test_key(key):
    SimulatedGateway(stripe_secret_key=key)


def test_refs_look_like_stripe(gw, customer):
    assert customer.startswith("cus_sim_") and len(customer) > len("cus_sim_") + 8
    pm = saved(gw, customer, "4242424242424242")
    assert pm.gateway_ref.startswith("pm_sim_")
    assert charge(gw, customer, pm.gateway_ref, "k1").gateway_ref.startswith("ch_sim_")


def test_state_is_process_wide(gw, customer):
    pm = saved(gw, customer, "4242424242424242")
    other = SimulatedGateway()
    assert other.cards_for(customer) == [pm]
    assert charge(other, customer, pm.gateway_ref, "k1").succeeded
    assert [c.idempotency_key for c in gw.charges_for(customer)] == ["k1"]


def test_test_cards_help_text():
    assert TEST_CARDS["4242424242424242"] == "Visa: succeeds"
    assert "insufficient funds" in TEST_CARDS["4000000000009995"]
    assert "3D Secure" in TEST_CARDS["4000002760003184"]
    assert len(TEST_CARDS) == 13
    assert all(luhn_valid(n) for n in TEST_CARDS)
    assert format_test_card("4242424242424242") == "4242 4242 4242 4242"
    assert format_test_card("378282246310005") == "3782 822463 10005"
    with pytest.raises(TypeError):
        TEST_CARDS["4111111111111111"] = "nope"  # read-only


# --------------------------------------------------------------------------- test cards


@pytest.mark.parametrize(
    ("number", "brand", "last4"),
    [
        ("4242 4242 4242 4242", "visa", "4242"),
        ("4000-0566-5566-5556", "visa", "5556"),
        ("5555555555554444", "mastercard", "4444"),
        ("378282246310005", "amex", "0005"),
    ],
)
def test_succeeding_cards(gw, customer, number, brand, last4):
    result = gw.attach_card(customer_ref=customer, card_input=card(number, month="7", year=str(IN_FIVE_YEARS)))
    assert result.outcome is SetupOutcome.SUCCEEDED
    assert (result.card.brand, result.card.last4, result.card.exp_month, result.card.exp_year) == (
        brand, last4, 7, IN_FIVE_YEARS
    )  # fmt: skip
    assert gw.cards_for(customer) == [result.card]
    outcome = charge(gw, customer, result.card.gateway_ref, "k")
    assert outcome.outcome is ChargeOutcome.SUCCEEDED and outcome.succeeded
    assert gw.succeeded_charge_count() == 1


@pytest.mark.parametrize(
    ("number", "code", "message"),
    [
        ("4000000000000002", "generic_decline", "Your card was declined."),
        ("4000000000009995", "insufficient_funds", "Your card has insufficient funds."),
        ("4000000000000069", "expired_card", "Your card has expired."),
        ("4000000000000127", "incorrect_cvc", "Your card's security code is incorrect."),
        ("4000000000009987", "lost_card", "Your card was declined."),
        ("4000000000009979", "stolen_card", "Your card was declined."),
    ],
)
def test_cards_declined_when_saved(gw, customer, number, code, message):
    result = gw.attach_card(customer_ref=customer, card_input=card(number))
    assert result.outcome is SetupOutcome.DECLINED
    assert (result.decline_code, result.message) == (code, message)
    assert result.card is None
    assert gw.cards_for(customer) == []


def test_0341_saves_but_every_charge_declines_softly(gw, customer):
    pm = saved(gw, customer, "4000000000000341")
    for key in ("k1", "k2"):
        result = charge(gw, customer, pm.gateway_ref, key)
        assert result.outcome is ChargeOutcome.DECLINED
        assert (result.decline_code, result.hard) == ("generic_decline", False)
        assert result.message == "Your card was declined."
        assert result.gateway_ref.startswith("ch_sim_")
    assert gw.charges_for(customer) == []


def test_3155_needs_3ds_once_then_charges_succeed(gw, customer):
    result = gw.attach_card(customer_ref=customer, card_input=card("4000002500003155"))
    assert result.outcome is SetupOutcome.REQUIRES_ACTION
    assert result.setup_ref.startswith("seti_sim_") and result.card is None
    assert gw.cards_for(customer) == []  # not usable before the challenge

    confirmed = gw.confirm_setup(setup_ref=result.setup_ref, approved=True)
    assert confirmed.outcome is SetupOutcome.SUCCEEDED
    assert (confirmed.card.brand, confirmed.card.last4) == ("visa", "3155")
    assert gw.cards_for(customer) == [confirmed.card]
    # Double submit of the challenge: same answer, no second card.
    assert gw.confirm_setup(setup_ref=result.setup_ref, approved=True) == confirmed
    assert len(gw.cards_for(customer)) == 1

    assert charge(gw, customer, confirmed.card.gateway_ref, "k1").succeeded
    assert charge(gw, customer, confirmed.card.gateway_ref, "k2").succeeded


@pytest.mark.parametrize("number", ["4000002500003155", "4000002760003184"])
def test_failed_3ds_challenge_declines(gw, customer, number):
    result = gw.attach_card(customer_ref=customer, card_input=card(number))
    denied = gw.confirm_setup(setup_ref=result.setup_ref, approved=False)
    assert denied.outcome is SetupOutcome.DECLINED
    assert denied.decline_code == "authentication_failed"
    assert "unable to authenticate" in denied.message
    assert gw.cards_for(customer) == []
    # It stays denied: approving afterwards cannot resurrect it.
    assert gw.confirm_setup(setup_ref=result.setup_ref, approved=True) == denied


def test_3184_needs_3ds_on_every_charge(gw, customer):
    result = gw.attach_card(customer_ref=customer, card_input=card("4000002760003184"))
    assert result.outcome is SetupOutcome.REQUIRES_ACTION
    pm = gw.confirm_setup(setup_ref=result.setup_ref, approved=True).card
    for key in ("k1", "k2"):
        outcome = charge(gw, customer, pm.gateway_ref, key)
        assert outcome.outcome is ChargeOutcome.REQUIRES_ACTION
        assert outcome.decline_code == "authentication_required"
    assert gw.succeeded_charge_count() == 0


def test_unknown_setup_ref_is_declined_not_crashing(gw):
    result = gw.confirm_setup(setup_ref="seti_sim_nope", approved=True)
    assert result.outcome is SetupOutcome.DECLINED
    assert result.decline_code == "resource_missing"


@pytest.mark.parametrize("behaviour", ["lost_card", "stolen_card"])
def test_lost_and_stolen_decline_hard_at_charge_time_too(gw, customer, behaviour):
    # They cannot be saved through attach_card; simulate one that got saved anyway.
    pm = saved(gw, customer, "4242424242424242")
    stored = simulated._STORE.cards[pm.gateway_ref]
    simulated._STORE.cards[pm.gateway_ref] = dataclasses.replace(stored, behaviour=behaviour)
    result = charge(gw, customer, pm.gateway_ref, "k")
    assert result.outcome is ChargeOutcome.DECLINED
    assert (result.decline_code, result.hard) == (behaviour, True)


# --------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    "number",
    ["4242424242424241", "4242 4242 4242", "42424242424242424242", "4242x42424242424", "", "٤٢٤٢٤٢٤٢٤٢٤٢٤٢٤٢"],
)
def test_incorrect_number(number):
    r = refused(number)
    assert (r.code, r.param, r.message) == ("incorrect_number", "number", "Your card number is incorrect.")


@pytest.mark.parametrize(
    ("month", "year", "code"),
    [
        ("13", NEXT_YEAR, "invalid_expiry_month"),
        ("0", NEXT_YEAR, "invalid_expiry_month"),
        ("ab", NEXT_YEAR, "invalid_expiry_month"),
        ("12", "2020", "invalid_expiry_year"),
        ("1", "20", "invalid_expiry_year"),
        ("12", "999", "invalid_expiry_year"),
        ("12", "2999", "invalid_expiry_year"),
        ("12", "", "invalid_expiry_year"),
    ],
)
def test_invalid_expiry_answers_stripes_codes_and_words(month, year, code):
    r = refused("4242424242424242", month=month, year=year)
    words = {"invalid_expiry_month": "month", "invalid_expiry_year": "year"}[code]
    assert (r.code, r.param, r.message) == (code, f"exp_{words}", f"Your card's expiration {words} is invalid.")


def test_a_past_month_of_this_year_is_an_invalid_month():
    today = datetime.now(UTC)
    if today.month == 1:
        pytest.skip("no past month in this year")
    assert refused("4242424242424242", month=str(today.month - 1), year=str(today.year)).code == "invalid_expiry_month"


def test_expiry_this_month_and_two_digit_years_are_accepted(gw, customer):
    today = datetime.now(UTC)
    this_month = card("4242424242424242", month=f"{today.month:02d}", year=str(today.year % 100))
    result = gw.attach_card(customer_ref=customer, card_input=this_month)
    assert result.outcome is SetupOutcome.SUCCEEDED
    assert (result.card.exp_month, result.card.exp_year) == (today.month, today.year)


@pytest.mark.parametrize(
    ("number", "cvc"),
    [("4242424242424242", "12"), ("4242424242424242", "1234"), ("4242424242424242", "abc"),
     ("378282246310005", "123"), ("5555555555554444", "")],
)  # fmt: skip
def test_invalid_cvc(number, cvc):
    r = refused(number, cvc=cvc)
    assert (r.code, r.param, r.message) == ("invalid_cvc", "cvc", "Your card's security code is invalid.")


def test_validation_order_number_then_expiry_then_cvc():
    assert refused("4242424242424241", month="13", cvc="1").code == "incorrect_number"
    assert refused("4242424242424242", month="13", cvc="1").code == "invalid_expiry_month"
    # A real (non-test) card with a bad CVC reports the CVC first, like Stripe.
    assert refused("4111111111111111", cvc="1").code == "invalid_cvc"


@pytest.mark.parametrize("number", ["4111111111111111", "5105105105105100", "371449635398431", "6011111111111117"])
def test_real_card_numbers_are_refused_in_test_mode(number):
    r = refused(number)
    assert (r.code, r.decline_code, r.param) == ("card_declined", "test_mode_live_card", "number")
    assert "test mode" in r.message and "4242 4242 4242 4242" in r.message


def test_attach_to_unknown_customer(gw):
    result = gw.attach_card(customer_ref="cus_sim_missing", card_input=card("4242424242424242"))
    assert (result.outcome, result.decline_code) == (SetupOutcome.DECLINED, "resource_missing")


# --------------------------------------------------------------------------- charges


@pytest.mark.parametrize(
    ("amount", "currency", "error"),
    [(0, "USD", ValueError), (-1, "USD", ValueError), (10.5, "USD", TypeError), (True, "USD", TypeError),
     (100, "XXQ", ValueError), (100, "", ValueError)],
)  # fmt: skip
def test_charge_validates_amount_and_currency(gw, customer, amount, currency, error):
    pm = saved(gw, customer, "4242424242424242")
    with pytest.raises(error):
        charge(gw, customer, pm.gateway_ref, "k", amount=amount, currency=currency)
    assert gw.succeeded_charge_count() == 0


def test_charge_requires_an_idempotency_key(gw, customer):
    pm = saved(gw, customer, "4242424242424242")
    with pytest.raises(ValueError):
        charge(gw, customer, pm.gateway_ref, "")


def test_charge_records_what_moved(gw, customer):
    pm = saved(gw, customer, "4242424242424242")
    result = gw.charge(
        customer_ref=customer,
        payment_method_ref=pm.gateway_ref,
        amount_minor=1234,
        currency="eur",
        idempotency_key="att_1",
        description="ACME-2026-000001",
    )
    [recorded] = gw.charges_for(customer)
    assert (recorded.gateway_ref, recorded.amount_minor, recorded.currency, recorded.description) == (
        result.gateway_ref, 1234, "EUR", "ACME-2026-000001"
    )  # fmt: skip
    assert gw.charges_for("cus_sim_other") == []


def test_charge_with_someone_elses_card_is_a_hard_decline(gw, customer):
    pm = saved(gw, customer, "4242424242424242")
    other = gw.create_customer(email="bob@example.com", name="Bob", metadata={})
    result = charge(gw, other, pm.gateway_ref, "k")
    assert (result.outcome, result.decline_code, result.hard) == (ChargeOutcome.DECLINED, "resource_missing", True)
    assert gw.lookup_charge(idempotency_key="k") is None
    assert gw.succeeded_charge_count() == 0


def test_same_key_returns_first_result_and_charges_once(gw, customer):
    pm = saved(gw, customer, "4242424242424242")
    first = charge(gw, customer, pm.gateway_ref, "att_7")
    again = charge(gw, customer, pm.gateway_ref, "att_7")
    assert again == first
    assert gw.succeeded_charge_count() == 1
    assert charge(gw, customer, pm.gateway_ref, "att_8").gateway_ref != first.gateway_ref
    assert gw.succeeded_charge_count() == 2


def test_same_key_keeps_a_decline(gw, customer):
    pm = saved(gw, customer, "4242424242424242")
    gw.fail_next("insufficient_funds")
    first = charge(gw, customer, pm.gateway_ref, "k")
    assert charge(gw, customer, pm.gateway_ref, "k") == first  # a new attempt needs a new key
    assert first.decline_code == "insufficient_funds"


def test_key_reused_with_different_parameters_is_refused(gw, customer):
    pm = saved(gw, customer, "4242424242424242")
    charge(gw, customer, pm.gateway_ref, "k", amount=100)
    with pytest.raises(IdempotencyKeyReused):
        charge(gw, customer, pm.gateway_ref, "k", amount=200)
    assert gw.succeeded_charge_count() == 1


def test_idempotency_under_50_threads(customer, gw, monkeypatch):
    pm = saved(gw, customer, "4242424242424242")
    start = threading.Barrier(50)
    # Widen the window between "key not seen yet" and "result recorded", so a missing lock shows.
    slow_ref = simulated._new_ref
    monkeypatch.setattr(simulated, "_new_ref", lambda prefix: (time.sleep(0.002), slow_ref(prefix))[1])

    def one_charge(i: int):
        gateway = SimulatedGateway()  # separate instances share the process-wide store
        start.wait()
        return charge(gateway, customer, pm.gateway_ref, "att_same")

    with ThreadPoolExecutor(max_workers=50) as pool:
        results = list(pool.map(one_charge, range(50)))

    assert len({r.gateway_ref for r in results}) == 1
    assert all(r.succeeded for r in results)
    assert gw.succeeded_charge_count() == 1
    assert len(gw.charges_for(customer)) == 1
    assert gw.charge_request_count() == 50


def test_distinct_keys_under_threads_all_charge(customer, gw):
    pm = saved(gw, customer, "4242424242424242")
    with ThreadPoolExecutor(max_workers=20) as pool:
        list(pool.map(lambda i: charge(gw, customer, pm.gateway_ref, f"att_{i}"), range(100)))
    assert gw.succeeded_charge_count() == 100
    assert len({c.gateway_ref for c in gw.charges_for(customer)}) == 100


# --------------------------------------------------------------------------- scripting


def test_fail_next_defaults_to_a_soft_generic_decline(gw, customer):
    pm = saved(gw, customer, "4242424242424242")
    gw.fail_next()
    result = charge(gw, customer, pm.gateway_ref, "k1")
    assert (result.outcome, result.decline_code, result.hard) == (ChargeOutcome.DECLINED, "generic_decline", False)
    assert result.message == "Your card was declined."
    assert charge(gw, customer, pm.gateway_ref, "k2").succeeded  # only the next one
    assert gw.pending_script_count() == 0


def test_fail_next_codes_hardness_and_times(gw, customer):
    pm = saved(gw, customer, "4242424242424242")
    gw.fail_next("stolen_card")
    gw.fail_next("insufficient_funds", times=2)
    gw.fail_next("do_not_honor", hard=True, message="Custom")
    results = [charge(gw, customer, pm.gateway_ref, f"k{i}") for i in range(5)]
    assert [(r.decline_code, r.hard) for r in results[:4]] == [
        ("stolen_card", True), ("insufficient_funds", False), ("insufficient_funds", False), ("do_not_honor", True)
    ]  # fmt: skip
    assert results[1].message == "Your card has insufficient funds."
    assert results[3].message == "Custom"
    assert results[4].succeeded
    with pytest.raises(ValueError):
        gw.fail_next(times=0)


def test_timeout_after_the_gateway_charged(gw, customer):
    pm = saved(gw, customer, "4242424242424242")
    gw.timeout_next()
    result = charge(gw, customer, pm.gateway_ref, "att_1")
    assert result.outcome is ChargeOutcome.ERROR and not result.succeeded
    assert "unknown" in result.message

    # The money moved: lookup reveals it, and retrying the same key does not charge again.
    found = gw.lookup_charge(idempotency_key="att_1")
    assert found is not None and found.succeeded
    assert [c.gateway_ref for c in gw.charges_for(customer)] == [found.gateway_ref]
    assert charge(gw, customer, pm.gateway_ref, "att_1") == found
    assert gw.succeeded_charge_count() == 1


def test_timeout_before_the_gateway_saw_it(gw, customer):
    pm = saved(gw, customer, "4242424242424242")
    gw.timeout_next(reached_gateway=False)
    result = charge(gw, customer, pm.gateway_ref, "att_1")
    assert result.outcome is ChargeOutcome.ERROR
    assert gw.lookup_charge(idempotency_key="att_1") is None
    assert gw.succeeded_charge_count() == 0
    # Nothing was recorded, so the same key may still go through later.
    assert charge(gw, customer, pm.gateway_ref, "att_1").succeeded
    assert gw.succeeded_charge_count() == 1


def test_timeout_after_keeps_the_real_outcome_of_a_bad_card(gw, customer):
    pm = saved(gw, customer, "4000000000000341")
    gw.timeout_next()
    assert charge(gw, customer, pm.gateway_ref, "k").outcome is ChargeOutcome.ERROR
    assert gw.lookup_charge(idempotency_key="k").decline_code == "generic_decline"


def test_require_action_next(gw, customer):
    pm = saved(gw, customer, "4242424242424242")
    gw.require_action_next()
    assert charge(gw, customer, pm.gateway_ref, "k1").outcome is ChargeOutcome.REQUIRES_ACTION
    assert charge(gw, customer, pm.gateway_ref, "k2").succeeded


def test_replays_do_not_consume_scripts(gw, customer):
    pm = saved(gw, customer, "4242424242424242")
    first = charge(gw, customer, pm.gateway_ref, "k1")
    gw.fail_next()
    assert charge(gw, customer, pm.gateway_ref, "k1") == first
    assert gw.pending_script_count() == 1
    assert charge(gw, customer, pm.gateway_ref, "k2").outcome is ChargeOutcome.DECLINED


def test_scripts_are_process_wide_and_thread_safe(gw, customer):
    pm = saved(gw, customer, "4242424242424242")
    SimulatedGateway().fail_next(times=30)
    with ThreadPoolExecutor(max_workers=25) as pool:
        results = list(pool.map(lambda i: charge(SimulatedGateway(), customer, pm.gateway_ref, f"k{i}"), range(100)))
    assert sum(r.outcome is ChargeOutcome.DECLINED for r in results) == 30
    assert sum(r.succeeded for r in results) == 70 == gw.succeeded_charge_count()


def test_lookup_of_an_unknown_key(gw):
    assert gw.lookup_charge(idempotency_key="never-sent") is None


def test_reset_forgets_everything(gw, customer):
    pm = saved(gw, customer, "4242424242424242")
    charge(gw, customer, pm.gateway_ref, "k")
    gw.fail_next(times=3)
    SimulatedGateway().reset()
    assert gw.succeeded_charge_count() == 0
    assert gw.cards_for(customer) == []
    assert gw.lookup_charge(idempotency_key="k") is None
    assert gw.pending_script_count() == 0
    assert gw.charge_request_count() == 0


# --------------------------------------------------------------------------- no card numbers kept


def _children(obj) -> list:
    if isinstance(obj, dict):
        return [*obj.keys(), *obj.values()]
    if isinstance(obj, (list, tuple, set, frozenset, deque)):
        return list(obj)
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return [getattr(obj, f.name) for f in dataclasses.fields(obj)]
    if hasattr(obj, "__dict__") and not isinstance(obj, type):
        return list(vars(obj).values())
    return []


def _leaves(root) -> tuple[set[str], set[int]]:
    """Every str and int reachable from root (dataclasses, containers, plain objects)."""
    strings: set[str] = set()
    ints: set[int] = set()
    seen: set[int] = set()
    stack = [root]
    while stack:
        obj = stack.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        if isinstance(obj, str):
            strings.add(obj)
        elif isinstance(obj, int) and not isinstance(obj, bool):
            ints.add(obj)
        else:
            stack.extend(_children(obj))
    return strings, ints


def test_no_card_number_or_cvc_is_ever_stored(gw, customer):
    entered = []
    for i, number in enumerate(TEST_CARDS):
        grouped = format_test_card(number)
        cvc = "9876" if number.startswith("37") else "987"
        entered.append((number, cvc))
        result = gw.attach_card(customer_ref=customer, card_input=card(grouped, cvc=cvc))
        if result.outcome is SetupOutcome.REQUIRES_ACTION and i % 2:
            result = gw.confirm_setup(setup_ref=result.setup_ref, approved=True)
        if result.outcome is SetupOutcome.SUCCEEDED:
            charge(gw, customer, result.card.gateway_ref, f"k{i}")
    refused("4111 1111 1111 1111", cvc="987")  # a real card: the tokenizer refuses it
    entered.append(("4111111111111111", "987"))

    # Pickle serialises the whole object graph of the store: no full number anywhere in it.
    blob = pickle.dumps(simulated._STORE).decode("latin-1")
    strings, ints = _leaves(simulated._STORE)
    assert strings and ints  # the walker did reach the data
    for number, cvc in entered:
        assert number not in blob
        assert not any(number in s.replace(" ", "").replace("-", "") for s in strings)
        assert not any(number[:6] in s for s in strings)  # not even the BIN
        assert cvc not in strings and int(cvc) not in ints  # the CVC never survives
        assert int(number) not in ints

    # And the saved cards expose only what CardDetails allows.
    for details in gw.cards_for(customer):
        assert {f.name for f in dataclasses.fields(details)} == {
            "gateway_ref", "brand", "last4", "exp_month", "exp_year"
        }  # fmt: skip
        assert len(details.last4) == 4


# --------------------------------------------------------------------------- across processes


@pytest.mark.parametrize(
    ("number", "outcome"),
    [("4242424242424242", ChargeOutcome.SUCCEEDED), ("4000000000000341", ChargeOutcome.DECLINED),
     ("4000002760003184", ChargeOutcome.REQUIRES_ACTION)],
)  # fmt: skip
def test_saved_card_still_charges_as_itself_in_a_process_that_never_saw_it(gw, customer, number, outcome):
    """The seeding CLI, the web server and a cron run are different processes (reset = a new one)."""
    pm = saved(gw, customer, number)
    gw.reset()
    assert charge(gw, customer, pm.gateway_ref, "k-fresh").outcome is outcome
    other = gw.create_customer(email="bob@example.com", name="Bob", metadata={})
    gw.reset()
    refused = charge(gw, other, pm.gateway_ref, "k-other")
    assert (refused.outcome, refused.decline_code) == (ChargeOutcome.DECLINED, "resource_missing")
    assert charge(gw, customer, "pm_sim_" + "x" * 21, "k-junk").decline_code == "resource_missing"
