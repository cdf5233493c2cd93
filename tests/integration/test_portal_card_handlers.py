"""The portal's card handlers take a tokenized id only: card data sent as a Reflex event (a raw
client can send anything) is refused and attaches nothing, even beside a valid id."""

from __future__ import annotations

import pytest
from reflex.istate.data import RouterData
from sqlmodel import Session, select

from portal_app import i18n
from portal_app.models import PaymentMethod
from portal_app.pages.portal.payment_method import PortalCardState
from portal_app.portal_app import app  # noqa: F401  (registers every page and state)
from tests.builders import card_form
from tests.reflex_states import run_handler, signed_in_portal_state


@pytest.fixture
def portal(engine, monkeypatch):
    yield from signed_in_portal_state(engine, monkeypatch, PortalCardState)


def _cards(engine) -> list[str]:
    with Session(engine) as session:
        return [pm.last4 for pm in session.exec(select(PaymentMethod).order_by(PaymentMethod.id)).all()]


@pytest.mark.parametrize(
    "form",
    [
        {"number": "4000 0025 0000 3155", "expiry": "12/30", "cvc": "123"},
        {"number": "4000002500003155", "exp_month": "12", "exp_year": "2030", "cvc": "123"},
        {**card_form("4000 0000 0000 0341"), "number": "4000002500003155"},
        {**card_form("4000 0000 0000 0341"), "cvc": "123"},
        {"stripe_id": "seti_abc", "number": "4000002500003155"},
        {"payment_method": "pm_abc\n"},
        {"payment_method": "4000002500003155"},
    ],
)
def test_card_data_in_an_event_is_refused_and_attaches_nothing(engine, portal, form):
    before = _cards(engine)
    run_handler(PortalCardState.save_card, portal, form)
    assert portal.form_error or portal.number_error
    assert not portal.challenge_open and not portal.saving
    assert _cards(engine) == before


def test_a_tokenized_card_is_saved(engine, portal):
    run_handler(PortalCardState.save_card, portal, card_form("4000 0000 0000 0341"))
    assert _cards(engine)[-1] == "0341" and portal.form_error == ""


def test_the_tokenizers_refusal_shows_inline_in_the_customers_language(portal):
    portal.lang = "es"
    run_handler(PortalCardState.card_refused, portal, {"code": "invalid_expiry_month", "param": "exp_month"})
    assert portal.expiry_error == i18n.card_error("invalid_expiry_month", "es") and portal.number_error == ""
    run_handler(PortalCardState.card_refused, portal, {"code": "incorrect_number", "param": "number"})
    assert portal.number_error == i18n.card_error("incorrect_number", "es") and portal.expiry_error == ""


def test_card_refused_needs_a_portal_session(portal):
    portal.router = RouterData.from_router_data({"headers": {"cookie": ""}, "pathname": "/portal", "query": {}})
    run_handler(PortalCardState.card_refused, portal, {"code": "incorrect_number", "param": "number"})
    assert portal.number_error == ""
