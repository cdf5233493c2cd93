"""The console's refund dialog, through its Reflex handlers: the owner refunds part of a paid invoice
(the row then says so), bad amounts are refused in the dialog, and a double click refunds once."""

from __future__ import annotations

import pytest
from sqlmodel import select

from portal_app import db
from portal_app.billing import accounts, sessions
from portal_app.billing.facades.console import plans as plans_facade
from portal_app.billing.facades.console import registration as registration_facade
from portal_app.billing.gateways.simulated import SimulatedGateway
from portal_app.models import CreditNote, Refund
from portal_app.pages.console.profile import ConsoleProfileState
from portal_app.portal_app import app  # noqa: F401  (registers every page and state)
from tests.builders import PLAN_FORM, card_form
from tests.reflex_states import live_state, run_handler


@pytest.fixture
def owner(any_engine, monkeypatch):
    monkeypatch.setattr(db, "get_engine", lambda: any_engine)
    gateway = SimulatedGateway()
    gateway.reset()
    import portal_app.billing.gateways as gateways

    monkeypatch.setattr(gateways, "get_gateway", lambda: gateway)
    with db.session_scope() as session:
        user = accounts.sign_up(
            session, company_name="Acme", email="owner@acme.example", password="long enough password"
        )
        secret = sessions.open_console_session(session, user)
    plan_id = plans_facade.save_plan(merchant_id=user.merchant_id, user_id=user.id, form=PLAN_FORM)
    result = registration_facade.register_subscriber(
        merchant_id=user.merchant_id,
        user_id=user.id,
        plan_id=plan_id,
        form={"name": "Ann Alpha", "email": "ann@acme.example", **card_form()},
    )
    with live_state(
        ConsoleProfileState,
        f"console_session={secret}",
        path="/console",
        params={"subscriber_id": str(result.subscriber_id)},
    ) as state:
        run_handler(ConsoleProfileState.load, state)
        yield state, gateway
    gateway.reset()


def _rows(model):
    with db.session_scope() as session:
        return list(session.exec(select(model)))


def test_the_owner_refunds_part_of_a_paid_invoice_and_the_row_says_so(owner):
    state, gateway = owner
    (invoice,) = state.invoices
    assert invoice["status"] == "paid" and invoice["refundable"] == "yes" and invoice["refund_label"] == ""
    total = invoice["amount"]

    run_handler(ConsoleProfileState.open_refund, state, invoice["id"])
    assert state.refund_invoice_id == invoice["id"] and state.refund_left == total
    run_handler(ConsoleProfileState.set_refund_amount, state, "abc")
    run_handler(ConsoleProfileState.submit_refund, state)
    assert "amount" in state.refund_error and _rows(Refund) == []
    run_handler(ConsoleProfileState.set_refund_amount, state, "100000")
    run_handler(ConsoleProfileState.submit_refund, state)
    assert "At most" in state.refund_error and _rows(Refund) == []

    run_handler(ConsoleProfileState.set_refund_amount, state, "10.00")
    run_handler(ConsoleProfileState.set_refund_reason, state, "Goodwill")
    (toast,) = run_handler(ConsoleProfileState.submit_refund, state)
    assert "Refunded $10.00" in repr(toast) and "credit note" in repr(toast)
    # A second click on the closed dialog does nothing.
    assert run_handler(ConsoleProfileState.submit_refund, state) == [None]
    (note,) = _rows(CreditNote)
    assert note.total_minor == 1000 and note.reason == "Goodwill"
    assert [amount for _, amount, _ in gateway.refunds()] == [1000]
    (invoice,) = state.invoices
    assert invoice["refund_label"] == "Partially refunded · $10.00" and invoice["refundable"] == "yes"

    run_handler(ConsoleProfileState.open_refund, state, invoice["id"])
    run_handler(ConsoleProfileState.submit_refund, state)  # the rest, as the dialog proposes
    (invoice,) = state.invoices
    assert invoice["refund_label"].startswith("Refunded ") and invoice["refundable"] == ""
    assert len(_rows(CreditNote)) == 2


def test_an_invoice_not_in_the_list_cannot_be_opened(owner):
    state, _ = owner
    (toast,) = run_handler(ConsoleProfileState.open_refund, state, "999999")
    assert "not found" in repr(toast).lower() and state.refund_invoice_id == ""
