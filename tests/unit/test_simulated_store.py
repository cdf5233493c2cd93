"""The simulated gateway's charges outlive the process, like a processor's: a restart replays, never recharges."""

from __future__ import annotations

import sqlite3

import pytest

from portal_app.billing.gateways import simulated_store
from portal_app.billing.gateways.base import IdempotencyKeyReused
from portal_app.billing.gateways.simulated import SimulatedGateway
from tests.builders import card as card_form


def _charge(gw: SimulatedGateway, customer: str, card: str, key: str, amount: int = 2900):
    return gw.charge(
        customer_ref=customer,
        payment_method_ref=card,
        amount_minor=amount,
        currency="USD",
        idempotency_key=key,
        description="Invoice FIT-2026-000001",
    )


def test_a_restarted_gateway_replays_the_first_result_and_refuses_other_parameters(tmp_path, monkeypatch):
    path = str(tmp_path / "charges.db")
    gw = SimulatedGateway(store_path=path)
    customer = gw.create_customer(email="ada@example.com", name="Ada", metadata={})
    card = gw.attach_card(customer_ref=customer, card_input=card_form()).card.gateway_ref
    first = _charge(gw, customer, card, "m1-0-attempt-1")
    assert first.succeeded and (first.amount_minor, first.currency, first.customer_ref) == (2900, "USD", customer)

    # A new process: nothing in memory, the same file.
    monkeypatch.setattr(simulated_store, "_STORES", {})
    restarted = SimulatedGateway(store_path=path)
    assert _charge(restarted, customer, card, "m1-0-attempt-1") == first
    assert restarted.lookup_charge(idempotency_key="m1-0-attempt-1") == first
    assert restarted.charge_status(first.gateway_ref) == ("m1-0-attempt-1", first)
    with pytest.raises(IdempotencyKeyReused):
        _charge(restarted, customer, card, "m1-0-attempt-1", amount=100)
    assert restarted.succeeded_charge_count() == 1
    [stored] = restarted.charges_for(customer)
    assert stored.gateway_ref == first.gateway_ref and stored.description == "Invoice FIT-2026-000001"

    # Its own file, in WAL mode (several worker processes), holding no card number.
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    dump = "\n".join(conn.iterdump())
    assert "4242424242424242" not in dump
    conn.close()
    restarted.reset()


def test_the_default_path_is_a_setting_next_to_the_database():
    from portal_app.settings import DATA_DIR, Settings

    assert Settings.model_fields["simulated_gateway_path"].default == str(DATA_DIR / "simulated_gateway.db")
