"""Refunds of paid invoices and their credit notes, on SQLite and PostgreSQL: full and partial refunds,
over-refunds refused (also when two race), a gateway timeout settled by replaying the same key, gapless
credit note numbers, the tax split, and the credit note PDF's text."""

from __future__ import annotations

import subprocess
import threading
from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlmodel import select

from portal_app.billing.invoices import create_draft_invoice, finalize_invoice, set_invoice_tax_rate
from portal_app.billing.payments.charging import charge_invoice
from portal_app.billing.payments.refunding import RefundError, RefundOutcome, refund_invoice, settle_unknown_refunds
from portal_app.billing.runs import run_billing
from portal_app.billing.statuses import InvoiceStatus
from portal_app.db import new_session
from portal_app.models import CreditNote, EmailMessage, Invoice, OutgoingEvent, Refund, Subscriber, Subscription
from tests.builders import JAN31, audit_kinds, invoices_of, rows, subscribed_world

LATER = JAN31 + timedelta(days=3)


def _paid_invoice(world) -> Invoice:
    (invoice,) = [inv for inv in invoices_of(world) if inv.status == InvoiceStatus.PAID]
    return invoice


def _taxed_paid_invoice(world, gateway, *, tax_rate_bp: int = 2100) -> Invoice:
    """A second invoice with tax (2900 + 21 % = 3509), finalized and paid by the card."""
    with new_session(world.engine) as session, session.begin():
        (sub,) = session.exec(select(Subscription).where(Subscription.subscriber_id == world.subscriber_id)).all()
        draft = create_draft_invoice(session, sub.id, merchant_id=world.merchant_id, now=JAN31)
        set_invoice_tax_rate(session, draft.id, merchant_id=world.merchant_id, tax_rate_bp=tax_rate_bp)
        finalize_invoice(session, draft.id, merchant_id=world.merchant_id, now=JAN31)
        invoice_id = draft.id
    result = charge_invoice(
        world.engine, invoice_id, merchant_id=world.merchant_id, trigger="manual", gateway=gateway, now=JAN31
    )
    assert result.succeeded
    (invoice,) = rows(world.engine, Invoice, Invoice.id == invoice_id)
    return invoice


def _refund(world, gateway, invoice_id: int, amount: int, reason: str = "", now=LATER):
    return refund_invoice(
        world.engine,
        merchant_id=world.merchant_id,
        invoice_id=invoice_id,
        amount_minor=amount,
        reason=reason,
        actor="owner@fit.example",
        now=now,
        gateway=gateway,
    )


def _notes(world) -> list[CreditNote]:
    return sorted(rows(world.engine, CreditNote, CreditNote.merchant_id == world.merchant_id), key=lambda n: n.id)


def _pdf_text(data: bytes) -> str:
    out = subprocess.run(["pdftotext", "-layout", "-enc", "UTF-8", "-", "-"], input=data, capture_output=True)
    return out.stdout.decode().replace("\u202f", " ").replace("\xa0", " ")


def test_a_full_refund_issues_a_credit_note_with_pdf_event_email_and_leaves_the_invoice_alone(any_engine, gateway):
    world, _ = subscribed_world(any_engine, gateway)
    invoice = _paid_invoice(world)
    before = invoice.model_dump()

    result = _refund(world, gateway, invoice.id, invoice.total_minor, reason="Customer asked")

    assert result.outcome is RefundOutcome.SUCCEEDED
    assert result.credit_note_number == "FIT-CN-2026-000001"
    (refund,) = rows(any_engine, Refund)
    assert (refund.status, refund.amount_minor, refund.reason) == ("succeeded", 2900, "Customer asked")
    assert refund.gateway_ref.startswith("re_sim_")
    assert [(amount, currency) for _, amount, currency in gateway.refunds()] == [(2900, "USD")]
    (note,) = _notes(world)
    assert (note.subtotal_minor, note.tax_minor, note.total_minor, note.refund_id) == (2900, 0, 2900, refund.id)
    text = _pdf_text(note.pdf_bytes)
    assert "Credit note" in text and "FIT-CN-2026-000001" in text and invoice.number in text
    assert "$29.00" in text and "Customer asked" in text
    # The finalized invoice is untouched: still paid, same amounts.
    (after,) = rows(any_engine, Invoice, Invoice.id == invoice.id)
    assert {k: v for k, v in after.model_dump().items() if k != "pdf_bytes"} == {
        k: v for k, v in before.items() if k != "pdf_bytes"
    }
    kinds = audit_kinds(world)
    assert "refund_requested" in kinds and "refund_succeeded" in kinds
    events = [e.type for e in rows(any_engine, OutgoingEvent)]
    assert "credit_note.issued" in events
    (email,) = rows(any_engine, EmailMessage, EmailMessage.kind == "credit_note_issued")
    assert "FIT-CN-2026-000001" in email.subject and "$29.00" in email.body_text
    # Nothing is left to refund.
    with pytest.raises(RefundError) as refused:
        _refund(world, gateway, invoice.id, 1)
    assert refused.value.code == "exceeds_refundable"


def test_two_partial_refunds_split_tax_in_proportion_and_never_exceed_the_invoice(any_engine, gateway):
    world, _ = subscribed_world(any_engine, gateway)
    invoice = _taxed_paid_invoice(world, gateway)
    assert (invoice.subtotal_minor, invoice.tax_minor, invoice.total_minor) == (2900, 609, 3509)

    first = _refund(world, gateway, invoice.id, 1000)
    second = _refund(world, gateway, invoice.id, 1500)
    with pytest.raises(RefundError) as too_much:
        _refund(world, gateway, invoice.id, 1010)  # 1009 left
    assert too_much.value.code == "exceeds_refundable"
    last = _refund(world, gateway, invoice.id, 1009)

    assert [r.outcome for r in (first, second, last)] == [RefundOutcome.SUCCEEDED] * 3
    notes = _notes(world)
    assert [n.number for n in notes] == ["FIT-CN-2026-000001", "FIT-CN-2026-000002", "FIT-CN-2026-000003"]
    for n in notes:
        assert n.subtotal_minor + n.tax_minor == n.total_minor
    assert [(n.subtotal_minor, n.tax_minor) for n in notes][:2] == [(827, 173), (1240, 260)]
    assert sum(n.subtotal_minor for n in notes) == 2900 and sum(n.tax_minor for n in notes) == 609
    text = _pdf_text(notes[0].pdf_bytes)
    assert "Tax (21%)" in text and "$1.73" in text and "$10.00" in text


def test_refunds_of_unpaid_invoices_wrong_amounts_and_other_merchants_are_refused(any_engine, gateway):
    world, _ = subscribed_world(any_engine, gateway)
    other, _ = subscribed_world(any_engine, gateway, slug="other", prefix="OTH")
    invoice = _paid_invoice(world)
    for amount, code in ((0, "invalid_amount"), (-5, "invalid_amount"), (2901, "exceeds_refundable")):
        with pytest.raises(RefundError) as refused:
            _refund(world, gateway, invoice.id, amount)
        assert refused.value.code == code
    with pytest.raises(RefundError):
        _refund(world, gateway, invoice.id, True)  # a bool is not an amount
    with pytest.raises(Exception) as foreign:
        _refund(other, gateway, invoice.id, 100)
    assert getattr(foreign.value, "code", "") == "not_found"
    with new_session(any_engine) as session, session.begin():
        (sub,) = session.exec(select(Subscription).where(Subscription.subscriber_id == world.subscriber_id)).all()
        draft = create_draft_invoice(session, sub.id, merchant_id=world.merchant_id, now=JAN31)
        finalize_invoice(session, draft.id, merchant_id=world.merchant_id, now=JAN31)
        open_id = draft.id
    with pytest.raises(RefundError) as unpaid:
        _refund(world, gateway, open_id, 100)
    assert unpaid.value.code == "not_paid"
    assert rows(any_engine, Refund) == [] and gateway.refunds() == []


def test_a_failed_refund_is_recorded_with_the_gateways_words_and_frees_the_amount(any_engine, gateway):
    world, _ = subscribed_world(any_engine, gateway)
    invoice = _paid_invoice(world)
    gateway.fail_next_refund()
    failed = _refund(world, gateway, invoice.id, 2900)
    assert failed.outcome is RefundOutcome.FAILED and "scripted failure" in failed.message
    assert [r.status for r in rows(any_engine, Refund)] == ["failed"]
    assert _notes(world) == [] and gateway.refunds() == []
    assert _refund(world, gateway, invoice.id, 2900).outcome is RefundOutcome.SUCCEEDED


def test_concurrent_refunds_cannot_over_refund(any_engine, gateway):
    world, _ = subscribed_world(any_engine, gateway)
    invoice = _paid_invoice(world)
    outcomes, start = [], threading.Barrier(4)

    def refund_2000():
        start.wait()
        try:
            outcomes.append(_refund(world, gateway, invoice.id, 2000).outcome)
        except RefundError as exc:
            outcomes.append(exc.code)

    threads = [threading.Thread(target=refund_2000) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == sorted([RefundOutcome.SUCCEEDED] + ["exceeds_refundable"] * 3)
    assert [n.total_minor for n in _notes(world)] == [2000]
    assert sum(amount for _, amount, _ in gateway.refunds()) == 2000


def test_a_timeout_leaves_the_refund_unknown_until_the_billing_run_replays_its_key(any_engine, gateway):
    world, _ = subscribed_world(any_engine, gateway)
    invoice = _paid_invoice(world)
    gateway.timeout_next_refund(reached_gateway=True)

    unknown = _refund(world, gateway, invoice.id, 1200)

    assert unknown.outcome is RefundOutcome.UNKNOWN
    (refund,) = rows(any_engine, Refund)
    assert refund.status == "unknown" and _notes(world) == []
    assert len(gateway.refunds()) == 1  # the money did move
    # While unknown, its amount stays held: no second refund can take it.
    with pytest.raises(RefundError):
        _refund(world, gateway, invoice.id, 1701)

    run_billing(any_engine, now=LATER + timedelta(hours=1), gateway=gateway)

    (refund,) = rows(any_engine, Refund)
    assert refund.status == "succeeded"
    assert len(gateway.refunds()) == 1  # replayed under the same key: not refunded twice
    (note,) = _notes(world)
    assert (note.total_minor, note.number) == (1200, "FIT-CN-2026-000001")
    assert settle_unknown_refunds(any_engine, gateway=gateway, now=LATER + timedelta(hours=2)) == 0
    assert len(_notes(world)) == 1


def test_a_timeout_before_the_gateway_is_settled_by_the_replay_which_then_refunds_once(any_engine, gateway):
    world, _ = subscribed_world(any_engine, gateway)
    invoice = _paid_invoice(world)
    gateway.timeout_next_refund(reached_gateway=False)
    assert _refund(world, gateway, invoice.id, 500).outcome is RefundOutcome.UNKNOWN
    assert gateway.refunds() == []
    assert settle_unknown_refunds(any_engine, gateway=gateway, now=LATER) == 1
    assert settle_unknown_refunds(any_engine, gateway=gateway, now=LATER) == 0
    assert [amount for _, amount, _ in gateway.refunds()] == [500]
    assert [n.total_minor for n in _notes(world)] == [500]


def test_credit_note_numbers_are_gapless_per_merchant_and_year(any_engine, gateway):
    world, _ = subscribed_world(any_engine, gateway)
    other, _ = subscribed_world(any_engine, gateway, slug="other", prefix="OTH")
    mine, theirs = _paid_invoice(world), _paid_invoice(other)
    gateway.fail_next_refund()
    _refund(world, gateway, mine.id, 100)  # failed: takes no number
    _refund(world, gateway, mine.id, 100)
    _refund(other, gateway, theirs.id, 100)
    _refund(world, gateway, mine.id, 100, now=LATER.replace(year=2027))
    _refund(world, gateway, mine.id, 100, now=LATER.replace(year=2027))
    with new_session(any_engine) as session:
        numbers = session.execute(sa.select(CreditNote.number).order_by(CreditNote.id)).scalars().all()
    assert numbers == ["FIT-CN-2026-000001", "OTH-CN-2026-000001", "FIT-CN-2027-000001", "FIT-CN-2027-000002"]


def test_spanish_invoices_get_spanish_credit_notes(any_engine, gateway):
    world, _ = subscribed_world(any_engine, gateway)
    with new_session(any_engine) as session, session.begin():
        session.execute(sa.update(Subscriber).where(Subscriber.id == world.subscriber_id).values(language="es"))
    invoice = _taxed_paid_invoice(world, gateway)  # finalized in the subscriber's language now
    _refund(world, gateway, invoice.id, 2900, reason="Cobro duplicado")
    (note,) = _notes(world)
    text = _pdf_text(note.pdf_bytes)
    assert "Nota de crédito" in text and "REEMBOLSADO" in text and "Cobro duplicado" in text
