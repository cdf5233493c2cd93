"""A new card: save it at the gateway (with 3DS when the bank asks), then retry every open invoice."""

from __future__ import annotations

import dataclasses
import logging
from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa

from portal_app.billing.errors import NotFound
from portal_app.billing.gateways.base import PaymentGateway, SetupOutcome, SetupResult
from portal_app.billing.payments.attempts import ChargeInvoiceResult
from portal_app.billing.payments.cards import CardSummary, ensure_gateway_customer, save_card
from portal_app.billing.payments.charging import charge_invoices
from portal_app.billing.payments.declines import CARD_GONE
from portal_app.billing.statuses import InvoiceStatus
from portal_app.billing.tenancy import get_scoped
from portal_app.db import new_session
from portal_app.models import Invoice, Subscriber

log = logging.getLogger(__name__)

I = InvoiceStatus


class CardUpdateOutcome(StrEnum):
    UPDATED = "updated"
    REQUIRES_ACTION = "requires_action"  # show the bank's challenge, then confirm_payment_method_setup
    DECLINED = "declined"
    ERROR = "error"


@dataclasses.dataclass(frozen=True)
class CardUpdateResult:
    """The card update, then the result of retrying each open invoice with the new card (codes only:
    the edge words it, facades.portal.card_update_text)."""

    outcome: CardUpdateOutcome
    card: CardSummary | None = None
    setup_ref: str = ""  # keep server-side; pass back to confirm_payment_method_setup
    decline_code: str = ""
    charges: tuple[ChargeInvoiceResult, ...] = ()

    @property
    def all_paid(self) -> bool:
        return all(c.paid for c in self.charges)


def retry_open_invoices(
    engine: sa.Engine,
    subscriber_id: int,
    merchant_id: int,
    gateway: PaymentGateway,
    now: datetime,
    *,
    trigger: str = "card_update",
) -> list[ChargeInvoiceResult]:
    """Charge every open invoice of the subscriber at once, oldest first (after a card update,
    while the customer waits). Invoices another worker is charging come back IN_PROGRESS."""
    with new_session(engine) as session, session.begin():
        get_scoped(session, Subscriber, subscriber_id, merchant_id)
        ids = list(
            session.execute(
                sa.select(Invoice.id)
                .where(
                    Invoice.merchant_id == merchant_id, Invoice.subscriber_id == subscriber_id, Invoice.status == I.OPEN
                )
                .order_by(Invoice.finalized_at, Invoice.id)
            ).scalars()
        )
    return charge_invoices(engine, ids, merchant_id=merchant_id, trigger=trigger, gateway=gateway, now=now)


def _finish_card_update(engine, subscriber, setup: SetupResult, gateway, *, actor, now) -> CardUpdateResult:
    if setup.outcome is SetupOutcome.SUCCEEDED and setup.card is not None:
        pm = save_card(engine, subscriber, setup.card, gateway, actor=actor, now=now)
        charges = retry_open_invoices(engine, subscriber.id, subscriber.merchant_id, gateway, now)
        return CardUpdateResult(CardUpdateOutcome.UPDATED, card=CardSummary.from_row(pm), charges=tuple(charges))
    if setup.outcome is SetupOutcome.REQUIRES_ACTION:
        return CardUpdateResult(
            CardUpdateOutcome.REQUIRES_ACTION,
            setup_ref=setup.setup_ref,
        )
    if setup.outcome is SetupOutcome.DECLINED:
        # The edge words the code (with the likely fix) rather than show the gateway's terse text.
        return CardUpdateResult(
            CardUpdateOutcome.DECLINED,
            decline_code=setup.decline_code,
        )
    return CardUpdateResult(CardUpdateOutcome.ERROR)


def update_payment_method(
    engine: sa.Engine,
    *,
    merchant_id: int,
    subscriber_id: int,
    card_input: dict[str, str],
    gateway: PaymentGateway,
    now: datetime,
    actor: str = "subscriber",
) -> CardUpdateResult:
    """Save a new default card, then retry every open invoice with it at once.

    3DS cards answer REQUIRES_ACTION with a setup_ref: show the challenge, then call
    confirm_payment_method_setup. Nothing about the card is stored before the gateway accepts it.
    """
    with new_session(engine) as session:
        subscriber = get_scoped(session, Subscriber, subscriber_id, merchant_id)
        session.expunge(subscriber)
    customer_ref = ensure_gateway_customer(engine, subscriber, gateway)
    try:
        setup = gateway.attach_card(customer_ref=customer_ref, card_input=card_input)
        if setup.outcome is SetupOutcome.DECLINED and setup.decline_code == CARD_GONE:
            # The gateway lost our customer (deleted in its dashboard, or a test-mode reset): make a new one.
            customer_ref = ensure_gateway_customer(engine, subscriber, gateway, replace=True)
            setup = gateway.attach_card(customer_ref=customer_ref, card_input=card_input)
    except Exception as exc:  # noqa: BLE001 - a gateway failure of any kind is reported, never raised
        log.warning("attach_card failed for subscriber %s: %r", subscriber_id, exc)
        return CardUpdateResult(CardUpdateOutcome.ERROR)
    return _finish_card_update(engine, subscriber, setup, gateway, actor=actor, now=now)


def confirm_payment_method_setup(
    engine: sa.Engine,
    *,
    merchant_id: int,
    subscriber_id: int,
    setup_ref: str,
    approved: bool,
    gateway: PaymentGateway,
    now: datetime,
    actor: str = "subscriber",
) -> CardUpdateResult:
    """Finish a 3DS card setup (setup_ref from the server-side session), then retry open invoices."""
    with new_session(engine) as session:
        subscriber = get_scoped(session, Subscriber, subscriber_id, merchant_id)
        session.expunge(subscriber)
    if not setup_ref:
        raise NotFound("No card confirmation is waiting.")
    try:
        setup = gateway.confirm_setup(setup_ref=setup_ref, approved=approved)
    except Exception as exc:  # noqa: BLE001 - a gateway failure of any kind is reported, never raised
        log.warning("confirm_setup failed for subscriber %s: %r", subscriber_id, exc)
        return CardUpdateResult(CardUpdateOutcome.ERROR)
    return _finish_card_update(engine, subscriber, setup, gateway, actor=actor, now=now)
