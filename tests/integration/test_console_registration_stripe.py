"""Stripe mode: the console collects no card. The register form refuses card data (never drops it)
and registers the subscriber without a card: incomplete subscription, first invoice open, the portal
link emailed; the subscriber's own card (Elements, 3DS with their bank) then pays that invoice."""

from __future__ import annotations

import pytest
from sqlmodel import Session, select

from portal_app import db
from portal_app.billing import accounts
from portal_app.billing.facades.console import plans as plans_facade
from portal_app.billing.facades.console import registration as registration_facade
from portal_app.billing.facades.console.forms import ConsoleError
from portal_app.billing.gateways.base import CardEntry
from portal_app.models import EmailMessage, Invoice, PaymentAttempt, PaymentMethod, Subscription
from tests.builders import PLAN_FORM, card_form, table_snapshot


class ElementsOnlyGateway:
    """Stands in for the Stripe gateway: cards come from Elements; the console must not call it."""

    name = "stripe"
    card_entry = CardEntry.STRIPE_ELEMENTS
    test_mode = True

    def __getattr__(self, name):
        raise AssertionError(f"registering in the console called the gateway: {name}")


@pytest.fixture
def merchant(engine, monkeypatch):
    monkeypatch.setattr(db, "get_engine", lambda: engine)
    with db.session_scope() as session:
        user = accounts.sign_up(
            session, company_name="Acme", email="owner@acme.example", password="long enough password"
        )
        merchant_id, user_id = user.merchant_id, user.id
    plan_id = plans_facade.save_plan(merchant_id=merchant_id, user_id=user_id, form=PLAN_FORM)
    return merchant_id, user_id, plan_id


def _register(merchant, form):
    merchant_id, user_id, plan_id = merchant
    return registration_facade.register_subscriber(
        merchant_id=merchant_id, user_id=user_id, plan_id=plan_id, form=form, gateway=ElementsOnlyGateway()
    )


def test_the_console_takes_cards_only_with_the_simulated_tokenizer():
    assert registration_facade.console_takes_cards(ElementsOnlyGateway()) is False


@pytest.mark.parametrize(
    "card",
    [
        {"number": "4242 4242 4242 4242", "expiry": "12/30", "cvc": "123"},
        {"stripe_id": "pm_123abc"},
        {"payment_method": "pm_123abc"},
        {"cvc": "123"},
    ],
)
def test_card_fields_are_refused_in_stripe_mode(engine, merchant, card):
    before = table_snapshot(engine)
    with pytest.raises(ConsoleError, match="portal"):
        _register(merchant, {"name": "Ana", "email": "ana@example.com", "send_invitation": "on", **card})
    assert table_snapshot(engine) == before


def test_registering_without_a_card_emails_the_portal_link_and_leaves_the_first_invoice_open(engine, merchant):
    result = _register(merchant, {"name": "Ana", "email": "ana@example.com", "send_invitation": "on"})
    assert result.outcome is registration_facade.RegistrationOutcome.AWAITING_CARD and not result.active
    assert result.invitation_sent and "portal" in result.message
    with Session(engine) as session:
        subscription = session.exec(select(Subscription)).one()
        assert subscription.status == "incomplete"
        assert [i.status for i in session.exec(select(Invoice)).all()] == ["open"]
        assert session.exec(select(PaymentAttempt)).all() == []  # nothing charged, no "attempt" without a card
        assert session.exec(select(PaymentMethod)).all() == []
        (invitation,) = session.exec(select(EmailMessage).where(EmailMessage.kind == "invitation")).all()
        assert "/portal/" in invitation.body_text


def test_without_the_invitation_the_merchant_is_told_where_the_link_is(merchant):
    result = _register(merchant, {"name": "Bo", "email": "bo@example.com"})
    assert not result.invitation_sent and "profile" in result.message


def test_the_simulated_gateway_still_takes_the_tokenized_card_in_the_console(engine, merchant, monkeypatch):
    merchant_id, user_id, plan_id = merchant
    result = registration_facade.register_subscriber(
        merchant_id=merchant_id,
        user_id=user_id,
        plan_id=plan_id,
        form={"name": "Cy", "email": "cy@example.com", **card_form()},
    )
    assert result.active
