"""Credit notes in the portal: the subscriber's own credit note PDFs over HTTP (another subscriber's
is a plain 404), credit notes in the year ZIP, and the invoice history rows listing them."""

from __future__ import annotations

import io
import zipfile
from datetime import timedelta

import pytest
from starlette.testclient import TestClient

from portal_app import db, routes
from portal_app.api import build_api
from portal_app.billing import portal_links, sessions
from portal_app.billing.facades import portal as portal_facade
from portal_app.billing.facades.portal_credit_notes import portal_credit_notes
from portal_app.billing.payments.refunding import refund_invoice
from portal_app.models import Subscriber
from portal_app.pages.portal.rows import invoice_rows
from tests.builders import JAN31, subscribed_world


def _portal_cookie(engine, subscriber_id: int) -> str:
    with db.session_scope(engine) as session:
        link = portal_links.resolve_portal_token(
            session, portal_links.issue_portal_link(session, session.get(Subscriber, subscriber_id))
        )
        return sessions.open_portal_session(session, link)


@pytest.fixture
def refunded(any_engine, gateway, monkeypatch):
    """Two merchants' subscribers, each with a paid January invoice; 10.00 of each refunded."""
    monkeypatch.setattr(db, "get_engine", lambda: any_engine)
    out = []
    for slug, prefix in (("fit", "FIT"), ("gym", "GYM")):
        world, start = subscribed_world(any_engine, gateway, slug=slug, prefix=prefix)
        result = refund_invoice(
            any_engine,
            merchant_id=world.merchant_id,
            invoice_id=start.invoice_id,
            amount_minor=1000,
            reason="",
            actor="owner",
            now=JAN31 + timedelta(days=2),
            gateway=gateway,
        )
        out.append((world, start, result))
    return out


def test_own_credit_note_pdf_downloads_and_anothers_is_404(any_engine, refunded):
    (mine, _, my_refund), (_, _, their_refund) = refunded
    client = TestClient(build_api(), follow_redirects=False)
    url = routes.credit_note_pdf_url(my_refund.credit_note_id)
    assert client.get(url).status_code == 303  # no session: the explained page
    client.cookies.set(routes.PORTAL_SESSION_COOKIE, _portal_cookie(any_engine, mine.subscriber_id))
    resp = client.get(url)
    assert resp.status_code == 200 and resp.content.startswith(b"%PDF")
    assert resp.headers["content-disposition"] == 'attachment; filename="FIT-CN-2026-000001.pdf"'
    assert resp.headers["cache-control"] == "no-store"
    assert client.get(routes.credit_note_pdf_url(their_refund.credit_note_id)).status_code == 404
    assert client.get(routes.credit_note_pdf_url(999_999)).status_code == 404

    resp = client.get(routes.invoice_year_zip_url(2026))
    names = zipfile.ZipFile(io.BytesIO(resp.content)).namelist()
    assert names == ["FIT-2026-000001.pdf", "FIT-CN-2026-000001.pdf"]


def test_the_invoice_history_lists_the_credit_note_beside_its_invoice(any_engine, refunded):
    (mine, start, _), _ = refunded
    summary = portal_facade.portal_summary(merchant_id=mine.merchant_id, subscriber_id=mine.subscriber_id)
    notes = portal_credit_notes(merchant_id=mine.merchant_id, subscriber_id=mine.subscriber_id)
    for lang, label, amount in (("en", "Refund", "-$10.00"), ("es", "Reembolso", "-10,00")):
        rows, more = invoice_rows(summary.invoices, summary.invoice_years, lang, 6, notes)
        assert not more and [r["number"] for r in rows] == ["FIT-CN-2026-000001", "FIT-2026-000001"]
        note = rows[0]
        assert note["status_label"] == label and note["amount"].startswith(amount)
        assert note["url"] == routes.credit_note_pdf_url(notes[0].credit_note_id) and note["payable"] == ""
        assert note["year_head"] == "1" and "2" in note["year_short"]  # the ZIP holds both files
        assert rows[1]["id"] == str(start.invoice_id)
