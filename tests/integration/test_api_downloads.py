"""The subscriber's downloads and merchant logos over HTTP: only the session's own downloadable
invoices, one generic 404 for everything else, and the cache headers each kind of file needs."""

from __future__ import annotations

import io
import zipfile

import pytest
from starlette.testclient import TestClient

from portal_app import db, routes
from portal_app.api import build_api
from portal_app.billing import invoices, portal_links, sessions, subscriptions
from portal_app.billing.statuses import InvoiceStatus
from portal_app.models import Merchant, Subscriber
from tests.builders import JAN31, subscribed_world


def _portal_cookie(engine, subscriber_id: int) -> str:
    with db.session_scope(engine) as session:
        link = portal_links.resolve_portal_token(
            session, portal_links.issue_portal_link(session, session.get(Subscriber, subscriber_id))
        )
        return sessions.open_portal_session(session, link)


@pytest.fixture
def client(engine, monkeypatch):
    monkeypatch.setattr(db, "get_engine", lambda: engine)
    return TestClient(build_api(), follow_redirects=False)


@pytest.fixture
def worlds(engine, gateway):
    """Two merchants, each with one subscriber whose first invoice (January 2026) is paid."""
    mine, my_start = subscribed_world(engine, gateway)
    theirs, their_start = subscribed_world(engine, gateway, slug="gym", prefix="GYM")
    return mine, my_start, theirs, their_start


def test_own_invoice_pdf_is_an_uncached_attachment(client, engine, worlds):
    mine, start, _, _ = worlds
    client.cookies.set(routes.PORTAL_SESSION_COOKIE, _portal_cookie(engine, mine.subscriber_id))
    resp = client.get(routes.invoice_pdf_url(start.invoice_id))
    assert resp.status_code == 200 and resp.content.startswith(b"%PDF")
    assert resp.headers["content-type"] == "application/pdf"
    assert resp.headers["content-disposition"] == 'attachment; filename="FIT-2026-000001.pdf"'
    assert resp.headers["cache-control"] == "no-store"


def test_no_session_lands_on_the_ended_page_and_another_subscribers_invoice_is_404(client, engine, worlds):
    """A download without a live session is a browser navigation: it lands on the explained page
    (reason "ended"), never on a bare 401; someone else's invoice stays a plain 404."""
    mine, start, _theirs, their_start = worlds
    for url in (routes.invoice_pdf_url(start.invoice_id), routes.invoice_year_zip_url(2026)):
        client.cookies.clear()
        resp = client.get(url)
        assert resp.status_code == 303 and resp.headers["location"] == routes.portal_invalid_url("ended")
        client.cookies.set(routes.PORTAL_SESSION_COOKIE, "forged-secret")
        resp = client.get(url)
        assert resp.status_code == 303 and resp.headers["location"] == routes.portal_invalid_url("ended")
    client.cookies.set(routes.PORTAL_SESSION_COOKIE, _portal_cookie(engine, mine.subscriber_id))
    assert client.get(routes.invoice_pdf_url(their_start.invoice_id)).status_code == 404
    assert client.get(routes.invoice_pdf_url(999_999)).status_code == 404


def test_a_session_ended_by_a_new_link_sends_downloads_to_the_branded_ended_page(client, engine, worlds):
    mine, start, _, _ = worlds
    client.cookies.set(routes.PORTAL_SESSION_COOKIE, _portal_cookie(engine, mine.subscriber_id))
    assert client.get(routes.invoice_pdf_url(start.invoice_id)).status_code == 200
    with db.session_scope(engine) as session:
        subscriber = session.get(Subscriber, mine.subscriber_id)
        subscriber.language = "es"
        portal_links.issue_portal_link(session, subscriber)  # the merchant regenerates the link
    for url in (routes.invoice_pdf_url(start.invoice_id), routes.invoice_year_zip_url(2026)):
        resp = client.get(url)
        assert resp.status_code == 303
        assert resp.headers["location"] == routes.portal_invalid_url("ended", merchant_slug="fit", lang="es")
        assert "content-disposition" not in resp.headers and not resp.content.startswith(b"%PDF")


def test_void_invoice_is_not_downloadable(client, engine, worlds):
    mine, start, _, _ = worlds
    with db.session_scope(engine) as session:
        draft = invoices.create_draft_invoice(session, start.subscription_id, merchant_id=mine.merchant_id, now=JAN31)
        invoices.finalize_invoice(session, draft.id, merchant_id=mine.merchant_id, now=JAN31)
        invoices.settle_invoice(
            session, draft.id, InvoiceStatus.VOID, merchant_id=mine.merchant_id, actor="merchant", now=JAN31
        )
    client.cookies.set(routes.PORTAL_SESSION_COOKIE, _portal_cookie(engine, mine.subscriber_id))
    assert client.get(routes.invoice_pdf_url(draft.id)).status_code == 404
    assert client.get(routes.invoice_pdf_url(start.invoice_id)).status_code == 200


def test_year_zip_holds_the_years_invoices_and_an_empty_year_is_404(client, engine, worlds):
    mine, _, _, _ = worlds
    client.cookies.set(routes.PORTAL_SESSION_COOKIE, _portal_cookie(engine, mine.subscriber_id))
    resp = client.get(routes.invoice_year_zip_url(2026))
    assert resp.status_code == 200 and resp.headers["content-type"] == "application/zip"
    assert resp.headers["content-disposition"] == 'attachment; filename="fit-invoices-2026.zip"'
    assert zipfile.ZipFile(io.BytesIO(resp.content)).namelist() == ["FIT-2026-000001.pdf"]
    assert client.get(routes.invoice_year_zip_url(2025)).status_code == 404
    assert client.get(routes.invoice_year_zip_url(1999)).status_code == 404


def test_merchant_logo_is_public_and_cached(client, engine, worlds):
    with db.session_scope(engine) as session:
        merchant = session.get(Merchant, worlds[0].merchant_id)
        merchant.logo_png, merchant.logo_content_type = b"\x89PNG fake", "image/png"
        session.add(merchant)
    resp = client.get(routes.merchant_logo_url("fit"))
    assert resp.status_code == 200 and resp.content == b"\x89PNG fake"
    assert resp.headers["cache-control"] == "public, max-age=3600" and len(resp.headers["etag"]) == 32
    assert client.get(routes.merchant_logo_url("gym")).status_code == 404  # no logo uploaded
    assert client.get(routes.merchant_logo_url("nobody")).status_code == 404


def test_a_year_without_invoices_is_a_plain_404_with_the_usual_headers(client, engine, worlds):
    """Issue 10: a year with no invoices answered 500; it is a 404 that is never cached or referred."""
    mine, _, _, _ = worlds
    client.cookies.set(routes.PORTAL_SESSION_COOKIE, _portal_cookie(engine, mine.subscriber_id))
    for year in (2000, 2025, 2027, 2100):
        resp = client.get(routes.invoice_year_zip_url(year))
        assert resp.status_code == 404 and resp.text == "Not found"
        assert resp.headers["cache-control"] == "no-store"
        assert resp.headers["referrer-policy"] == "no-referrer"
        assert resp.headers["x-content-type-options"] == "nosniff"
        assert "content-disposition" not in resp.headers


def test_a_download_after_the_subscription_was_deleted_says_it_was_removed(client, engine, worlds):
    mine, start, _, _ = worlds
    client.cookies.set(routes.PORTAL_SESSION_COOKIE, _portal_cookie(engine, mine.subscriber_id))
    with db.session_scope(engine) as session:
        subscriptions.delete_subscription(
            session, start.subscription_id, merchant_id=mine.merchant_id, actor="user:1", now=JAN31
        )
    resp = client.get(routes.invoice_pdf_url(start.invoice_id))
    assert resp.status_code == 303
    assert resp.headers["location"] == routes.portal_invalid_url("deleted", merchant_slug="fit", lang="en")
