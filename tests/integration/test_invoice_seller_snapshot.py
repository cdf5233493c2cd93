"""The seller on an invoice is the seller when it was issued: legal name, address, tax id and support
email are copied at finalization (by hand and in a billing run), so editing the merchant afterwards
never changes an issued invoice's PDF; the year ZIP dates each PDF by its invoice's finalization."""

from __future__ import annotations

import io
import re
import subprocess
import zipfile
from datetime import datetime

import sqlalchemy as sa

from portal_app.billing import invoice_queries
from portal_app.billing import invoices as inv
from portal_app.billing.runs import run_billing
from portal_app.billing.subscriptions import start_subscription
from portal_app.db import new_session
from portal_app.models import Invoice, Merchant
from tests.builders import JAN31, UTC, invoices_of, make_world, subscribed_world

SELLER = {
    "legal_name": "Fit Incorporated S.L.",
    "address": "Calle de Alcalá 50\n28014 Madrid",
    "tax_id": "ESB11111111",
}


def pdf_text(data: bytes) -> str:
    out = subprocess.run(["pdftotext", "-layout", "-", "-"], input=data, capture_output=True, check=True).stdout
    return re.sub(r"[\u00a0\u2009\u202f]", " ", out.decode())


def _edit_merchant(engine, merchant_id: int) -> None:
    with new_session(engine) as session, session.begin():
        session.execute(
            sa.update(Merchant)
            .where(Merchant.id == merchant_id)
            .values(
                name="Renamed Gym",
                legal_name="New Owner GmbH",
                address="Somewhere Else 1",
                tax_id="DE999999999",
                support_email="new@renamed.example",
            )
        )


def test_finalize_copies_the_seller_and_later_edits_do_not_change_the_pdf(engine):
    world = make_world(engine, **SELLER)
    with new_session(engine) as session, session.begin():
        started = start_subscription(
            session, merchant_id=world.merchant_id, subscriber=world.subscriber_id, plan=world.plan_id, start_at=JAN31
        )
        draft = inv.create_draft_invoice(session, started.subscription.id, merchant_id=world.merchant_id, now=JAN31)
        finalized = inv.finalize_invoice(session, draft.id, merchant_id=world.merchant_id, now=JAN31)
        invoice_id = finalized.id
        assert (finalized.seller_legal_name, finalized.seller_tax_id) == ("Fit Incorporated S.L.", "ESB11111111")
        assert finalized.seller_address == "Calle de Alcalá 50\n28014 Madrid"
        assert finalized.seller_email == "help@fit.example"
    _edit_merchant(engine, world.merchant_id)
    with new_session(engine) as session, session.begin():
        text = pdf_text(invoice_queries.ensure_invoice_pdf(session, invoice_id, merchant_id=world.merchant_id))
    for old in ("Fit Inc.", "Fit Incorporated S.L.", "Calle de Alcalá 50", "28014 Madrid", "ESB11111111"):
        assert old in text, old
    assert "help@fit.example" in text
    for new in ("Renamed Gym", "New Owner GmbH", "Somewhere Else", "DE999999999", "new@renamed.example"):
        assert new not in text, new
    assert "Tax (0%)" in text  # the tax line is there even without tax


def test_a_billing_run_snapshots_the_seller_too(engine, gateway):
    world, _ = subscribed_world(engine, gateway, **SELLER)
    run_billing(engine, now=JAN31.replace(month=2, day=28), gateway=gateway)
    first, renewal = invoices_of(world)
    for invoice in (first, renewal):
        assert invoice.seller_legal_name == "Fit Incorporated S.L." and invoice.seller_tax_id == "ESB11111111"
        assert invoice.seller_email == "help@fit.example"
    _edit_merchant(engine, world.merchant_id)
    with new_session(engine) as session, session.begin():
        text = pdf_text(invoice_queries.ensure_invoice_pdf(session, renewal.id, merchant_id=world.merchant_id))
    assert "Fit Incorporated S.L." in text and "New Owner GmbH" not in text


def test_without_a_legal_name_the_seller_is_the_merchant_name(engine, gateway):
    world, _ = subscribed_world(engine, gateway)
    (invoice,) = invoices_of(world)
    assert invoice.seller_legal_name == "Fit Inc." and invoice.seller_address == "" and invoice.seller_tax_id == ""


def test_an_invoice_finalized_before_the_seller_snapshot_still_renders(engine, gateway):
    world, _ = subscribed_world(engine, gateway)
    (invoice,) = invoices_of(world)
    with new_session(engine) as session, session.begin():
        # As a row written before the seller columns existed (the migration left them empty).
        session.execute(sa.text("DROP TRIGGER IF EXISTS invoice_finalized_update"))
        session.execute(
            sa.update(Invoice)
            .where(Invoice.id == invoice.id)
            .values(seller_legal_name="", seller_address="", seller_tax_id="", seller_email="")
        )
    with new_session(engine) as session, session.begin():
        text = pdf_text(invoice_queries.ensure_invoice_pdf(session, invoice.id, merchant_id=world.merchant_id))
    assert "Fit Inc." in text and invoice.number in text


def test_year_zip_entries_carry_each_invoices_finalization_date(engine, gateway):
    world, _ = subscribed_world(engine, gateway, start_at=datetime(2025, 10, 5, 8, 30, tzinfo=UTC))
    for month in (11, 12):
        run_billing(engine, now=datetime(2025, month, 5, 9, 2, 5, tzinfo=UTC), gateway=gateway)
    with new_session(engine) as session, session.begin():
        _, data, count = invoice_queries.year_zip_for_subscriber(session, world.subscriber_id, world.merchant_id, 2025)
    finalized = [i.finalized_at for i in invoices_of(world)]
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        dates = [info.date_time for info in archive.infolist()]
    assert count == 3
    assert dates == [(f.year, f.month, f.day, f.hour, f.minute, f.second - f.second % 2) for f in finalized]
    assert dates[1] == (2025, 11, 5, 9, 2, 4) and dates[2][:3] == (2025, 12, 5)
