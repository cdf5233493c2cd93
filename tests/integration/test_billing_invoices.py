"""Invoices: gapless numbering under concurrency, immutability, settling moves, PDFs and ZIPs."""

from __future__ import annotations

import io
import threading
import zipfile
from datetime import datetime

import pytest
import sqlalchemy as sa

from portal_app.billing import invoice_queries
from portal_app.billing import invoices as inv
from portal_app.billing.errors import NotAllowed, NotFound
from portal_app.billing.runs import run_billing
from portal_app.billing.statuses import InvoiceStatus, SubscriptionStatus
from portal_app.billing.subscriptions import start_subscription
from portal_app.db import new_session
from portal_app.models import Invoice, InvoiceCounter
from tests.builders import JAN31, UTC, audit_kinds, invoices_of, make_world, rows, subscribed_world, subscription_of


def _drafts(world, count: int) -> list[int]:
    with new_session(world.engine) as session, session.begin():
        started = start_subscription(
            session, merchant_id=world.merchant_id, subscriber=world.subscriber_id, plan=world.plan_id, start_at=JAN31
        )
        return [
            inv.create_draft_invoice(session, started.subscription.id, merchant_id=world.merchant_id, now=JAN31).id
            for _ in range(count)
        ]


@pytest.mark.concurrency
def test_numbers_are_gapless_under_200_concurrent_finalizations(any_engine):
    world = make_world(any_engine)
    drafts = _drafts(world, 200)  # + the subscription's own first invoice: number 1
    barrier = threading.Barrier(len(drafts))
    errors: list[BaseException] = []

    def finalize(i: int, invoice_id: int) -> None:
        try:
            barrier.wait()
            with new_session(any_engine) as session, session.begin():
                inv.finalize_invoice(session, invoice_id, merchant_id=world.merchant_id, now=JAN31)
                if i % 10 == 0:
                    raise _Abort()  # roll back after taking a number: it must be given back
        except _Abort:
            pass
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=finalize, args=(i, d)) for i, d in enumerate(drafts)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[:3]
    numbers = sorted(i.number for i in rows(any_engine, Invoice, Invoice.number.is_not(None)))
    assert numbers == [f"FIT-2026-{n:06d}" for n in range(1, 182)]  # 1 + 200 - 20 rolled back
    (counter,) = rows(any_engine, InvoiceCounter)
    assert counter.last_value == 181
    assert len([i for i in rows(any_engine, Invoice) if i.status == InvoiceStatus.DRAFT]) == 20


class _Abort(Exception):
    pass


def test_each_merchant_and_year_has_its_own_sequence(engine, gateway):
    world, _ = subscribed_world(engine, gateway, start_at=datetime(2025, 12, 15, tzinfo=UTC))
    other, _ = subscribed_world(
        engine, gateway, slug="other", prefix="OTH", start_at=datetime(2025, 12, 20, tzinfo=UTC)
    )
    run_billing(engine, now=datetime(2026, 1, 21, tzinfo=UTC), gateway=gateway)
    assert [i.number for i in invoices_of(world)] == ["FIT-2025-000001", "FIT-2026-000001"]
    assert [i.number for i in invoices_of(other)] == ["OTH-2025-000001", "OTH-2026-000001"]


def test_finalized_invoices_are_immutable(engine):
    world = make_world(engine)
    (draft_id,) = _drafts(world, 1)
    with new_session(engine) as session, session.begin():
        inv.add_invoice_line(
            session,
            draft_id,
            merchant_id=world.merchant_id,
            description="Setup fee",
            unit_amount_minor=1000,
            quantity=2,
        )
        draft = inv.set_invoice_tax_rate(session, draft_id, merchant_id=world.merchant_id, tax_rate_bp=2100)
        # Money: tax is rounded half-up once, on the subtotal.
        assert (draft.subtotal_minor, draft.tax_minor, draft.total_minor) == (4900, 1029, 5929)
        finalized = inv.finalize_invoice(session, draft_id, merchant_id=world.merchant_id, now=JAN31)
        assert finalized.merchant_name == "Fit Inc." and finalized.billing_email == "ada.lovelace@example.com"
    with new_session(engine) as session, session.begin():
        for change in (
            lambda: inv.add_invoice_line(
                session, draft_id, merchant_id=world.merchant_id, description="More", unit_amount_minor=1
            ),
            lambda: inv.set_invoice_tax_rate(session, draft_id, merchant_id=world.merchant_id, tax_rate_bp=0),
            lambda: inv.finalize_invoice(session, draft_id, merchant_id=world.merchant_id, now=JAN31),
        ):
            with pytest.raises(inv.InvoiceImmutable):
                change()


def test_settling_moves_follow_the_status_table(engine, gateway):
    world, _ = subscribed_world(engine, gateway)
    gateway.fail_next("insufficient_funds")
    run_billing(engine, now=JAN31.replace(month=2, day=28), gateway=gateway)
    paid, open_ = invoices_of(world)
    with new_session(engine) as session, session.begin():
        with pytest.raises(NotAllowed):
            inv.settle_invoice(
                session, paid.id, InvoiceStatus.VOID, merchant_id=world.merchant_id, actor="user:1", now=JAN31
            )
        inv.settle_invoice(
            session, open_.id, InvoiceStatus.UNCOLLECTIBLE, merchant_id=world.merchant_id, actor="user:1", now=JAN31
        )
    assert invoices_of(world)[1].next_retry_at is None
    with new_session(engine) as session, session.begin():
        inv.settle_invoice(
            session,
            open_.id,
            InvoiceStatus.PAID,
            merchant_id=world.merchant_id,
            actor="user:1",
            now=JAN31,
            detail={"note": "cheque"},
        )
    assert invoices_of(world)[1].status == InvoiceStatus.PAID
    assert subscription_of(world).status == SubscriptionStatus.ACTIVE


def test_invoice_under_a_live_charge_cannot_be_settled_by_hand(engine, gateway):
    world, _ = subscribed_world(engine, gateway)
    gateway.fail_next("insufficient_funds")
    run_billing(engine, now=JAN31.replace(month=2, day=28), gateway=gateway)
    open_ = invoices_of(world)[1]
    with new_session(engine) as session, session.begin():
        session.execute(sa.update(Invoice).where(Invoice.id == open_.id).values(charging_attempt_id=999))
    with new_session(engine) as session, session.begin(), pytest.raises(NotAllowed):
        inv.settle_invoice(
            session, open_.id, InvoiceStatus.VOID, merchant_id=world.merchant_id, actor="user:1", now=JAN31
        )


def test_pdf_is_rendered_once_and_stored(engine, gateway, monkeypatch):
    world, _ = subscribed_world(engine, gateway)
    (invoice,) = invoices_of(world)
    calls = []
    real = invoice_queries.render_invoice_pdf
    monkeypatch.setattr(invoice_queries, "render_invoice_pdf", lambda *a: calls.append(1) or real(*a))
    with new_session(engine) as session, session.begin():
        first = invoice_queries.ensure_invoice_pdf(session, invoice.id, merchant_id=world.merchant_id)
    with new_session(engine) as session, session.begin():
        second = invoice_queries.ensure_invoice_pdf(
            session, invoice.id, merchant_id=world.merchant_id, subscriber_id=world.subscriber_id
        )
    assert first == second and first.startswith(b"%PDF") and len(calls) == 1
    assert invoices_of(world)[0].pdf_bytes == first
    with new_session(engine) as session, pytest.raises(NotFound):
        invoice_queries.ensure_invoice_pdf(session, invoice.id, merchant_id=world.merchant_id, subscriber_id=12345)
    with new_session(engine) as session, pytest.raises(NotFound):
        invoice_queries.ensure_invoice_pdf(session, invoice.id, merchant_id=world.merchant_id + 1)


def test_drafts_have_no_pdf(engine):
    world = make_world(engine)
    (draft_id,) = _drafts(world, 1)
    with new_session(engine) as session, pytest.raises(inv.InvoiceError):
        invoice_queries.ensure_invoice_pdf(session, draft_id, merchant_id=world.merchant_id)


def test_year_zip_holds_that_years_invoices(engine, gateway):
    world, _ = subscribed_world(engine, gateway, start_at=datetime(2025, 10, 5, tzinfo=UTC))
    for month in (11, 12):
        run_billing(engine, now=datetime(2025, month, 5, 1, tzinfo=UTC), gateway=gateway)
    run_billing(engine, now=datetime(2026, 1, 5, 1, tzinfo=UTC), gateway=gateway)
    with new_session(engine) as session, session.begin():
        assert invoice_queries.invoice_years(
            session, merchant_id=world.merchant_id, subscriber_id=world.subscriber_id
        ) == {
            2026: 1,
            2025: 3,
        }
        name, data, count = invoice_queries.year_zip_for_subscriber(
            session, world.subscriber_id, world.merchant_id, 2025
        )
    assert (name, count) == ("fit-invoices-2025.zip", 3)
    names = zipfile.ZipFile(io.BytesIO(data)).namelist()
    assert names == ["FIT-2025-000001.pdf", "FIT-2025-000002.pdf", "FIT-2025-000003.pdf"]
    with new_session(engine) as session, pytest.raises(inv.InvoiceError):
        invoice_queries.year_zip_for_subscriber(session, world.subscriber_id, world.merchant_id, 2024)
    with new_session(engine) as session, pytest.raises(NotFound):
        invoice_queries.year_zip_for_subscriber(session, world.subscriber_id, world.merchant_id + 1, 2025)


def test_year_zip_stores_the_stored_pdfs_as_they_are_and_renders_and_stores_the_missing_ones(engine, gateway):
    world, _ = subscribed_world(engine, gateway, start_at=datetime(2025, 10, 5, tzinfo=UTC))
    run_billing(engine, now=datetime(2025, 11, 5, 1, tzinfo=UTC), gateway=gateway)
    first, second = invoices_of(world)
    stored = b"%PDF-1.3 stored once, never redrawn"
    with new_session(engine) as session, session.begin():
        session.get(Invoice, first.id).pdf_bytes = stored
    with new_session(engine) as session, session.begin():
        _, data, _ = invoice_queries.year_zip_for_subscriber(session, world.subscriber_id, world.merchant_id, 2025)
    archive = zipfile.ZipFile(io.BytesIO(data))
    assert archive.read(f"{first.number}.pdf") == stored  # the stored bytes, as they are
    assert archive.read(f"{second.number}.pdf").startswith(b"%PDF")  # rendered now...
    assert invoices_of(world)[1].pdf_bytes == archive.read(f"{second.number}.pdf")  # ...and stored
    # PDFs are compressed already: entries are stored, not deflated again.
    assert {info.compress_type for info in archive.infolist()} == {zipfile.ZIP_STORED}


def _declined_renewal(engine, gateway):
    """Paid January, declined February renewal: one open invoice with a retry scheduled."""
    world, _ = subscribed_world(engine, gateway)
    gateway.fail_next("insufficient_funds")
    run_billing(engine, now=JAN31.replace(month=2, day=28), gateway=gateway)
    open_ = invoices_of(world)[1]
    assert open_.status == InvoiceStatus.OPEN and open_.next_retry_at is not None
    with new_session(engine) as session, session.begin():
        invoice_queries.ensure_invoice_pdf(session, open_.id, merchant_id=world.merchant_id)
    return world, open_


@pytest.mark.parametrize(
    ("status", "stamp", "audit_kind", "subscription"),
    [
        (InvoiceStatus.PAID, "paid_at", "invoice_marked_paid", SubscriptionStatus.ACTIVE),
        (InvoiceStatus.VOID, "voided_at", "invoice_voided", SubscriptionStatus.ACTIVE),
        (InvoiceStatus.UNCOLLECTIBLE, None, "invoice_uncollectible", SubscriptionStatus.PAST_DUE),
    ],
)
def test_settling_by_hand_has_the_effects_of_its_status(engine, gateway, status, stamp, audit_kind, subscription):
    world, open_ = _declined_renewal(engine, gateway)
    at = JAN31.replace(month=3, day=1)
    with new_session(engine) as session, session.begin():
        inv.settle_invoice(
            session, open_.id, status, merchant_id=world.merchant_id, actor="user:1", now=at, detail={"note": "x"}
        )
    settled = invoices_of(world)[1]
    assert settled.status == status and settled.next_retry_at is None and settled.pdf_bytes is None
    if stamp:
        assert getattr(settled, stamp) == at
    assert audit_kinds(world)[-1] == audit_kind
    assert subscription_of(world).status == subscription


def test_a_paying_charge_has_the_same_effects_as_paying_by_hand(engine, gateway):
    world, open_ = _declined_renewal(engine, gateway)
    before = audit_kinds(world)
    run_billing(engine, now=open_.next_retry_at, gateway=gateway)
    paid = invoices_of(world)[1]
    assert paid.status == InvoiceStatus.PAID and paid.charging_attempt_id is None
    assert paid.next_retry_at is None and paid.pdf_bytes is None and paid.paid_at == open_.next_retry_at
    assert subscription_of(world).status == SubscriptionStatus.ACTIVE
    # A payment is told by its attempt and receipt, not by a "marked paid" audit row.
    assert "invoice_marked_paid" not in audit_kinds(world)[len(before) :]


def test_void_invoices_are_not_downloadable(engine, gateway):
    world, open_ = _declined_renewal(engine, gateway)
    assert inv.is_downloadable(open_)
    with new_session(engine) as session, session.begin():
        voided = inv.settle_invoice(
            session, open_.id, InvoiceStatus.VOID, merchant_id=world.merchant_id, actor="user:1", now=JAN31
        )
        assert not inv.is_downloadable(voided) and not inv.is_downloadable("void")
        assert invoice_queries.invoice_years(
            session, merchant_id=world.merchant_id, subscriber_id=world.subscriber_id
        ) == {2026: 1}
        _, data, count = invoice_queries.year_zip_for_subscriber(session, world.subscriber_id, world.merchant_id, 2026)
    assert count == 1 and zipfile.ZipFile(io.BytesIO(data)).namelist() == [f"{invoices_of(world)[0].number}.pdf"]
