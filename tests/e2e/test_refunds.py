"""Refunds end to end: the merchant refunds part of a paid invoice from the subscriber's console
profile (the row then says "Partially refunded"), and the subscriber's portal lists the credit note
beside the invoice and downloads its PDF; at desktop and phone size, the portal in English and Spanish."""

from __future__ import annotations

import pathlib
import subprocess

import pytest
from sqlmodel import Session, select

from portal_app import routes
from portal_app.billing import demo
from portal_app.models import CreditNote

from .conftest import VIEWPORTS, assert_no_horizontal_scroll, make_subscriber, open_portal, screenshot

pytestmark = pytest.mark.e2e

PORTAL_WORDS = {
    "en": {"label": "Refund", "title": "Credit note"},
    "es": {"label": "Reembolso", "title": "Nota de crédito"},
}


def _sign_in(page, server) -> None:
    page.goto(f"{server['base_url']}/console")
    page.get_by_label("Email").fill(demo.OWNER_EMAIL)
    page.get_by_label("Password").fill(demo.DEMO_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="Dashboard").wait_for()


@pytest.mark.parametrize("lang", ["en", "es"])
def test_console_refunds_part_of_an_invoice_and_the_portal_lists_its_credit_note(server, page, browser, lang):
    subscriber_id, token = make_subscriber(server["engine"], language=lang, name=f"Refund Person {lang}")

    # The merchant refunds 10.00 of the paid first invoice.
    _sign_in(page, server)
    page.goto(server["base_url"] + routes.console_subscriber_url(subscriber_id))
    page.get_by_test_id("profile-name").filter(has_text=f"Refund Person {lang}").wait_for()
    row = page.get_by_test_id("profile-invoice").first
    row.get_by_test_id("invoice-refund").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("Amount (USD)").fill("100000")
    dialog.get_by_test_id("refund-confirm").click()
    dialog.get_by_test_id("refund-error").filter(has_text="At most").wait_for()  # more than was paid: refused
    dialog.get_by_label("Amount (USD)").fill("10.00")
    dialog.get_by_label("Reason (optional, printed on the credit note)").fill("Goodwill")
    screenshot(page, f"refund-dialog-{lang}")
    dialog.get_by_test_id("refund-confirm").click()
    page.get_by_text("Refunded $10.00 of").wait_for()
    dialog.wait_for(state="hidden")
    row.get_by_test_id("invoice-refund-label").filter(has_text="Partially refunded · $10.00").wait_for()
    assert_no_horizontal_scroll(page)
    screenshot(page, f"refund-console-{lang}")
    with Session(server["engine"]) as session:
        (note,) = session.exec(select(CreditNote).where(CreditNote.subscriber_id == subscriber_id)).all()
    assert note.total_minor == 1000 and note.reason == "Goodwill"

    # The subscriber sees the credit note beside the invoice and downloads its PDF.
    context = browser.new_context(viewport=VIEWPORTS[page.viewport_name])
    portal = context.new_page()
    portal.viewport_name = page.viewport_name
    try:
        open_portal(portal, server, token)
        item = portal.get_by_test_id("invoice-item").filter(has_text=note.number)
        item.wait_for()
        words = PORTAL_WORDS[lang]
        assert words["label"] in item.inner_text() and "10" in item.inner_text()
        # Newest first: the credit note sits above the invoice it refunds.
        assert note.number in portal.get_by_test_id("invoice-item").first.inner_text()
        assert_no_horizontal_scroll(portal)
        screenshot(portal, f"refund-portal-{lang}")
        with portal.expect_download() as info:
            item.get_by_test_id("invoice-row").click()
        data = pathlib.Path(info.value.path()).read_bytes()
        assert data[:5] == b"%PDF-" and info.value.suggested_filename == f"{note.number}.pdf"
        text = subprocess.run(["pdftotext", "-", "-"], input=data, capture_output=True, check=True).stdout.decode()
        assert words["title"] in text and note.number in text and "Goodwill" in text
    finally:
        context.close()
