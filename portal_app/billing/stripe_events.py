"""What the engine does with Stripe's facts (webhooks, and the browser's 3DS via facades.portal).

EngineCallbacks implements webhooks.BillingCallbacks on our tables. Every callback is idempotent and
forward-only, and settles through the payments' own recording path (recording.record_outcomes), so a charge
settled by a webhook, by its worker or by settle_unknown_attempts ends in exactly the same rows:
one paid invoice, one receipt, whoever comes first. Rows are found by what Stripe hands back (our
idempotency key, the Stripe customer, the PaymentMethod id), so tenancy follows the rows found.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import Callable
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import select

from portal_app.billing.audit import audit
from portal_app.billing.gateways import get_gateway
from portal_app.billing.gateways.base import CardDetails, ChargeOutcome, ChargeResult, PaymentGateway
from portal_app.billing.invoices import settle_invoice
from portal_app.billing.money import Money
from portal_app.billing.payments.attempts import ChargeClaim
from portal_app.billing.payments.attempts import idempotency_key as attempt_key  # callbacks take a kwarg of that name
from portal_app.billing.payments.card_updates import retry_open_invoices
from portal_app.billing.payments.cards import save_card
from portal_app.billing.payments.charging import refund_unapplied
from portal_app.billing.payments.recording import record_outcomes, record_successes, send_receipts
from portal_app.billing.payments.refunds import (
    CHARGE_MISMATCH,
    INVOICE_SETTLED,
    charge_mismatch,
    hold_for_review,
    refund_held_charges,
)
from portal_app.billing.statuses import AttemptStatus, InvoiceStatus, transition
from portal_app.billing.tenancy import get_scoped
from portal_app.db import new_session
from portal_app.models import Invoice, Merchant, PaymentAttempt, PaymentMethod, Subscriber, Subscription, utcnow

log = logging.getLogger(__name__)

A, I = AttemptStatus, InvoiceStatus

# payments.idempotency_key(): m<merchant id>-<20 digits: the attempt's key_nonce>-attempt-<attempt id>
_KEY = re.compile(r"^m(\d{1,18})-(\d{20})-attempt-(\d{1,18})$")


def _gateway() -> PaymentGateway:
    return get_gateway()


class EngineCallbacks:
    """webhooks.BillingCallbacks against the database (see its docstrings for the contract)."""

    def __init__(
        self, engine: sa.Engine, *, gateway: PaymentGateway | None = None, clock: Callable[[], datetime] = utcnow
    ) -> None:
        self.engine = engine
        self._gateway_override = gateway
        self.clock = clock

    @property
    def gateway(self) -> PaymentGateway:
        return self._gateway_override or _gateway()

    # ----------------------------------------------------------------- payments

    def payment_succeeded(self, *, idempotency_key: str, gateway_ref: str, result: ChargeResult | None = None) -> None:
        """`result`: the re-fetched PaymentIntent (amount, currency, customer) when the caller has it."""
        claim = self._claim_for_key(idempotency_key)
        if claim is None:
            return
        now = self.clock()
        answer = dataclasses.replace(
            result if result is not None and result.succeeded else ChargeResult(ChargeOutcome.SUCCEEDED),
            gateway_ref=gateway_ref,
        )
        status = self._attempt_status(claim.attempt_id)
        if status in (A.PENDING, A.UNKNOWN, A.REQUIRES_ACTION, A.FAILED) and charge_mismatch(
            claim, answer, claim.customer_ref
        ):
            self._hold(claim, answer, status, CHARGE_MISMATCH, now=now)  # not what we asked for: a person decides
            return
        if status in (A.PENDING, A.UNKNOWN):
            # The very path settle_unknown_attempts takes: re-checks the status under lock.
            refund_unapplied(
                self.engine,
                record_outcomes(self.engine, [(claim, answer)], now=now).values(),
                gateway=self.gateway,
                now=now,
            )
            # Its worker may have recorded requires_action (or a decline) in between: then settle it late.
            status = self._attempt_status(claim.attempt_id)
        if status in (A.REQUIRES_ACTION, A.FAILED):
            self._settle_late_success(claim, answer, now=now)
            refund_held_charges(self.engine, gateway=self.gateway, now=now, attempt_ids=[claim.attempt_id])
        # SUCCEEDED: already settled; REVIEW / REFUNDED: held for a refund or a person already.

    def payment_failed(self, *, idempotency_key: str, result: ChargeResult) -> None:
        if result.outcome not in (ChargeOutcome.DECLINED, ChargeOutcome.REQUIRES_ACTION):
            raise ValueError("payment_failed takes a DECLINED or REQUIRES_ACTION result")
        claim = self._claim_for_key(idempotency_key)
        if claim is None:
            return
        now = self.clock()
        status = self._attempt_status(claim.attempt_id)
        if status in (A.PENDING, A.UNKNOWN):
            record_outcomes(self.engine, [(claim, result)], now=now)  # declines hand over to dunning
        elif status == A.REQUIRES_ACTION and result.outcome is ChargeOutcome.DECLINED:
            self._fail_authentication(claim, result, now=now)
        # SUCCEEDED or FAILED: settled; a late failure never un-pays an invoice.

    # ----------------------------------------------------------------- cards

    def card_setup_succeeded(self, *, customer_ref: str, setup_ref: str, card: CardDetails) -> None:
        """Save the card the browser confirmed when the portal did not (tab closed), then retry invoices."""
        with new_session(self.engine) as session:
            subscriber = session.exec(select(Subscriber).where(Subscriber.gateway_customer_id == customer_ref)).first()
            if subscriber is None:
                log.info("setup %s: no subscriber with customer %s; ignored", setup_ref, customer_ref)
                return
            known = session.execute(
                sa.select(PaymentMethod.id).where(
                    PaymentMethod.subscriber_id == subscriber.id,
                    PaymentMethod.gateway_ref == card.gateway_ref,
                    PaymentMethod.detached_at.is_(None),
                )
            ).first()
            session.expunge(subscriber)
        if known is not None:  # the portal (or an earlier delivery) saved it already
            return
        gateway = self.gateway
        now = self.clock()
        save_card(self.engine, subscriber, card, gateway, actor="stripe", now=now)
        retry_open_invoices(self.engine, subscriber.id, subscriber.merchant_id, gateway, now)

    def card_updated(self, *, card: CardDetails) -> None:
        """The card network refreshed a card: new brand/last4/expiry on every row of that PaymentMethod."""
        now = self.clock()
        table = PaymentMethod.__table__
        with new_session(self.engine) as session, session.begin():
            changed = session.execute(
                sa.update(table)
                .where(
                    table.c.gateway_ref == card.gateway_ref,
                    table.c.gateway == "stripe",
                    sa.or_(
                        table.c.brand != card.brand,
                        table.c.last4 != card.last4,
                        table.c.exp_month != card.exp_month,
                        table.c.exp_year != card.exp_year,
                    ),
                )
                .values(brand=card.brand[:20], last4=card.last4[:4], exp_month=card.exp_month, exp_year=card.exp_year)
                .returning(table.c.merchant_id, table.c.subscriber_id)
            ).all()
            for merchant_id, subscriber_id in changed:
                audit(
                    session,
                    merchant_id=merchant_id,
                    subscriber_id=subscriber_id,
                    actor="stripe",
                    kind="payment_method_refreshed",
                    detail={"brand": card.brand, "last4": card.last4, "exp": f"{card.exp_month:02d}/{card.exp_year}"},
                    now=now,
                )

    # ----------------------------------------------------------------- internals

    def _claim_for_key(self, key: str) -> ChargeClaim | None:
        """The attempt behind one of our idempotency keys, as settlement expects it; None if not ours
        (another database sharing the Stripe account derives different keys: the merchant instant)."""
        match = _KEY.fullmatch(key or "")
        if match is None:
            log.info("payment event with foreign idempotency key %r; ignored", key)
            return None
        merchant_id, attempt_id = int(match.group(1)), int(match.group(3))
        with new_session(self.engine) as session:
            merchant = session.get(Merchant, merchant_id)
            row = session.execute(
                sa.select(PaymentAttempt, Invoice.subscriber_id, Invoice.number, Subscriber.gateway_customer_id)
                .join(Invoice, Invoice.id == PaymentAttempt.invoice_id)
                .join(Subscriber, Subscriber.id == Invoice.subscriber_id)
                .where(PaymentAttempt.id == attempt_id, PaymentAttempt.merchant_id == merchant_id)
            ).first()
            if merchant is None or row is None or attempt_key(merchant, attempt_id, row[0].key_nonce) != key:
                log.info("payment event for key %r matches no attempt here; ignored", key)
                return None
            attempt, subscriber_id, number, customer_ref = row
            return ChargeClaim(
                attempt_id=attempt.id,
                invoice_id=attempt.invoice_id,
                merchant_id=attempt.merchant_id,
                subscriber_id=subscriber_id,
                number=number or "",
                amount=Money(attempt.amount_minor, attempt.currency),
                customer_ref=customer_ref or "",
                payment_method_ref="",
                idempotency_key=key,
                trigger=attempt.trigger,
            )

    def _attempt_status(self, attempt_id: int) -> str:
        with new_session(self.engine) as session:
            return session.execute(sa.select(PaymentAttempt.status).where(PaymentAttempt.id == attempt_id)).scalar_one()

    def _settle_late_success(self, claim: ChargeClaim, answer: ChargeResult, *, now: datetime) -> None:
        """The money moved for an attempt that had asked for 3DS, or had failed (a 3DS challenge finished
        in a stale tab after it failed): it pays the invoice, never a second charge.

        Its claim was released when it asked or failed, so the invoice is claimed for it again under lock
        and settled by the ordinary success path (which holds it for a refund if the subscription ended
        since). An invoice written off meanwhile is still paid (uncollectible -> paid); one paid by another
        charge or voided cannot take it: held for a refund (refunds.py).
        """
        with new_session(self.engine) as session, session.begin():
            attempt = get_scoped(session, PaymentAttempt, claim.attempt_id, claim.merchant_id, for_update=True)
            subscription_id = session.execute(
                sa.select(Invoice.subscription_id).where(Invoice.id == claim.invoice_id)
            ).scalar_one()
            if subscription_id is not None:  # subscription before invoice: the order cancel and delete lock in
                get_scoped(session, Subscription, subscription_id, claim.merchant_id, for_update=True)
            invoice = get_scoped(session, Invoice, claim.invoice_id, claim.merchant_id, for_update=True)
            if attempt.status not in (A.REQUIRES_ACTION, A.FAILED):
                return  # settled meanwhile
            status = attempt.status
            if invoice.status == I.OPEN:
                # Money moved on this attempt: it takes the claim even from a retry in flight, whose own
                # success then cannot pay the invoice a second time and is refunded.
                invoice.charging_attempt_id = attempt.id
                session.add(invoice)
                session.flush()
                record_successes(session, [(claim, answer, status)], now=now)
                return
            if invoice.status != I.UNCOLLECTIBLE:
                hold_for_review(session, [((claim, answer, status), INVOICE_SETTLED)], now=now, actor="stripe")
                return
            transition(attempt, A.SUCCEEDED)
            attempt.gateway_ref = answer.gateway_ref[:64]
            attempt.settled_at = now
            attempt.decline_code = attempt.failure_message = ""
            session.add(attempt)
            settle_invoice(
                session, invoice.id, I.PAID, merchant_id=claim.merchant_id, actor="system", now=now, audited=False
            )
            send_receipts(session, [claim], now=now)

    def _hold(self, claim: ChargeClaim, answer: ChargeResult, status: str, reason: str, *, now: datetime) -> None:
        with new_session(self.engine) as session, session.begin():
            hold_for_review(session, [((claim, answer, status), reason)], now=now, actor="stripe")

    def _fail_authentication(self, claim: ChargeClaim, result: ChargeResult, *, now: datetime) -> None:
        """3DS failed or was abandoned: the attempt ends failed. Dunning already counted it when it asked."""
        with new_session(self.engine) as session, session.begin():
            attempt = get_scoped(session, PaymentAttempt, claim.attempt_id, claim.merchant_id, for_update=True)
            if attempt.status != A.REQUIRES_ACTION:
                return
            transition(attempt, A.FAILED)
            attempt.decline_code = (result.decline_code or "authentication_failed")[:40]
            attempt.failure_message = (result.message or "")[:300]
            attempt.hard_decline = bool(result.hard)
            attempt.settled_at = now
            session.add(attempt)
