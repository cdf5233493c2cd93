"""The subscriber portal, driven like a subscriber: fix an expired card, declines, 3DS, cancel and
undo, invoice downloads, and the links and PDFs of other people."""

from __future__ import annotations

import io
import pathlib
import re
import subprocess
import urllib.error
import urllib.request
import zipfile
from datetime import datetime

import pytest
from sqlmodel import Session, select

from portal_app.billing import demo
from portal_app.models import EmailMessage, Invoice, Subscriber, Subscription, utcnow

from .conftest import (
    assert_accessible,
    assert_no_horizontal_scroll,
    assert_tap_targets,
    make_subscriber,
    open_portal,
    screenshot,
)

pytestmark = pytest.mark.e2e


def _fill_card(page, number: str, expiry: str = "12/30", cvc: str = "123") -> None:
    page.get_by_role("button", name="Edit payment method").click()
    page.get_by_label("Card number").fill(number)
    page.get_by_label("Expiry (MM/YY)").fill(expiry)
    page.get_by_label("Security code (CVC)").fill(cvc)
    page.get_by_role("button", name="Save card").click()


def _status(page) -> str:
    return page.get_by_test_id("subscription-status").get_attribute("data-status")


def _subscription(engine, subscriber_id):
    with Session(engine) as session:
        return session.exec(select(Subscription).where(Subscription.subscriber_id == subscriber_id)).one()


def _record_socket_frames(page) -> list[str]:
    """Everything the page sends over Reflex's websocket (its events), as text."""
    sent: list[str] = []
    page.on("websocket", lambda ws: ws.on("framesent", lambda payload: sent.append(str(payload))))
    return sent


def test_past_due_subscriber_fixes_card_and_is_active_again(server, page):
    subscriber_id, token = make_subscriber(server["engine"], state="past_due")
    frames = _record_socket_frames(page)
    open_portal(page, server, token)
    assert _status(page) == "past_due"
    assert "Your last payment failed" in page.get_by_test_id("next-line").inner_text()
    screenshot(page, "portal-past-due")
    assert_accessible(page)
    assert_tap_targets(page)

    _fill_card(page, "4242 4242 4242 4242")
    result = page.get_by_test_id("card-result")
    result.wait_for()
    assert "Payment of $29.00 succeeded — your subscription is active again" in result.inner_text()
    page.wait_for_function("document.querySelector('[data-testid=subscription-status]').dataset.status === 'active'")
    assert page.get_by_test_id("card-label").inner_text() == "Visa ending in 4242"
    assert "Paid" in page.get_by_test_id("invoice-row").first.inner_text().split()
    screenshot(page, "portal-card-fixed")
    # The card number never reached the database or the page's state, nor a Reflex event: the card
    # component sent the tokenizer's pm_ id only.
    assert "4242 4242 4242 4242" not in page.content()
    events = "".join(frames)
    assert "save_card" in events and '"payment_method":"pm_' in events.replace(" ", "")
    assert "4242424242424242" not in events.replace(" ", "") and '"cvc"' not in events

    with Session(server["engine"]) as session:
        assert _subscription(server["engine"], subscriber_id).status == "active"
        open_invoices = session.exec(
            select(Invoice).where(Invoice.subscriber_id == subscriber_id, Invoice.status == "open")
        ).all()
        assert open_invoices == []
        receipts = session.exec(
            select(EmailMessage).where(EmailMessage.subscriber_id == subscriber_id, EmailMessage.kind == "receipt")
        ).all()
        assert len(receipts) == 2  # first invoice + the one just recovered


@pytest.mark.parametrize(
    ("number", "message"),
    [("4000 0000 0000 9995", "check with your bank"), ("4000 0000 0000 0069", "expired")],
)
def test_declined_card_shows_why_and_changes_nothing(server, page, number, message):
    subscriber_id, token = make_subscriber(server["engine"], state="past_due")
    open_portal(page, server, token)
    before = page.get_by_test_id("card-label").inner_text()
    _fill_card(page, number)
    error = page.get_by_test_id("card-error")
    error.wait_for()
    assert message in error.inner_text().lower()
    assert page.get_by_test_id("card-label").inner_text() == before
    assert _status(page) == "past_due"
    assert _subscription(server["engine"], subscriber_id).status == "past_due"
    screenshot(page, f"portal-decline-{number[-4:]}")


def test_inline_validation(server, page):
    _, token = make_subscriber(server["engine"])
    open_portal(page, server, token)
    # The simulated gateway's tokenizer answers in Stripe's words, shown under the field at fault.
    _fill_card(page, "4242", expiry="13/30", cvc="1")
    page.get_by_text("Your card number is incorrect.").wait_for()
    page.get_by_label("Card number").fill("4242424242424242")
    page.get_by_role("button", name="Save card").click()
    page.get_by_text("Your card's expiration month is invalid.").wait_for()
    assert page.get_by_label("Card number").get_attribute("aria-invalid") == "false"
    assert page.get_by_label("Expiry (MM/YY)").get_attribute("aria-invalid") == "true"
    screenshot(page, "portal-card-inline-error")
    page.get_by_label("Expiry (MM/YY)").fill("12/30")
    page.get_by_role("button", name="Save card").click()
    page.get_by_text("Your card's security code is invalid.").wait_for()


@pytest.mark.parametrize("approve", [True, False])
def test_3ds_card_challenge(server, page, approve):
    _, token = make_subscriber(server["engine"])
    open_portal(page, server, token)
    _fill_card(page, "4000 0025 0000 3155")
    dialog = page.get_by_role("dialog", name="Confirm with your bank")
    dialog.wait_for()
    screenshot(page, "portal-3ds")
    assert_accessible(page)
    dialog.get_by_role("button", name="Complete authentication" if approve else "Fail authentication").click()
    if approve:
        page.wait_for_function("document.querySelector('[data-testid=card-label]').innerText === 'Visa ending in 3155'")
    else:
        page.get_by_test_id("card-error").wait_for()
        assert page.get_by_test_id("card-label").inner_text() == "Visa ending in 4242"


def test_cancel_at_period_end_and_undo(server, page):
    subscriber_id, token = make_subscriber(server["engine"])
    open_portal(page, server, token)
    page.get_by_role("button", name="Cancel subscription").click()
    dialog = page.get_by_role("dialog", name="Cancel your subscription?")
    dialog.wait_for()
    assert_accessible(page)
    dialog.get_by_text("Too expensive").click()
    dialog.get_by_label("Tell us more (optional)").fill("Prices went up")
    dialog.get_by_role("button", name="Cancel subscription").click()
    page.get_by_role("button", name="Undo cancellation").wait_for()
    assert "Access ends on" in page.get_by_test_id("next-line").inner_text()
    sub = _subscription(server["engine"], subscriber_id)
    assert sub.cancel_at_period_end and sub.cancellation_reason == "too_expensive: Prices went up"
    screenshot(page, "portal-canceled")
    page.get_by_role("button", name="Undo cancellation").click()
    page.get_by_role("button", name="Cancel subscription").wait_for()
    assert not _subscription(server["engine"], subscriber_id).cancel_at_period_end


def test_plan_that_forbids_self_cancel_shows_no_button(server, page):
    _, token = make_subscriber(server["engine"], plan="Pro Yearly")
    open_portal(page, server, token)
    assert page.get_by_test_id("cancel-not-allowed").is_visible()
    assert page.get_by_role("button", name="Cancel subscription").count() == 0


def test_language_switch_to_spanish(server, page):
    _, token = make_subscriber(server["engine"])
    open_portal(page, server, token)
    page.get_by_role("combobox", name="Language").click()
    page.get_by_role("option", name="Español").click()
    page.get_by_role("heading", name="Método de pago").wait_for()
    assert "Próxima fecha de revisión" in page.content()
    assert re.search(r"\d+,\d\d\s?US\$", page.get_by_test_id("next-amount").inner_text())


def _get(url: str, cookie: str = ""):
    req = urllib.request.Request(url, headers={"Cookie": cookie} if cookie else {})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, resp.headers, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, err.headers, err.read()


def _cookie_header(page) -> str:
    return "; ".join(f"{c['name']}={c['value']}" for c in page.context.cookies())


def test_tax_season_year_zip_has_twelve_readable_pdfs(server, page, tmp_path):
    token = next(link.token for link in demo.demo_portal_links(server["engine"]) if link.name == "Globex Corporation")
    open_portal(page, server, token)
    last_year = datetime.now().year - 1
    button = page.get_by_role("link", name=f"Download all {last_year} invoices (12)")
    with page.expect_download() as info:
        button.click()
    archive = zipfile.ZipFile(io.BytesIO(pathlib.Path(info.value.path()).read_bytes()))
    names = sorted(archive.namelist())
    assert len(names) == 12
    for name in names:
        pdf = tmp_path / name
        pdf.write_bytes(archive.read(name))
        text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
        assert name.removesuffix(".pdf") in text and "Globex Corporation" in text
    # One invoice row downloads its own PDF.
    with page.expect_download() as info:
        page.get_by_test_id("invoice-row").first.click()
    assert pathlib.Path(info.value.path()).read_bytes()[:5] == b"%PDF-"


def test_a_subscriber_cannot_fetch_someone_elses_pdf(server, page):
    a_id, a_token = make_subscriber(server["engine"])
    b_id, _ = make_subscriber(server["engine"])
    open_portal(page, server, a_token)
    with Session(server["engine"]) as session:
        a_invoice = session.exec(select(Invoice).where(Invoice.subscriber_id == a_id)).first()
        b_invoice = session.exec(select(Invoice).where(Invoice.subscriber_id == b_id)).first()
    cookie = _cookie_header(page)
    base = f"{server['base_url']}/api/portal/invoices"
    assert _get(f"{base}/{a_invoice.id}.pdf", cookie)[0] == 200
    assert _get(f"{base}/{b_invoice.id}.pdf", cookie)[0] == 404
    assert _get(f"{base}/{a_invoice.id}.pdf")[0] == 401
    assert _get(f"{base}/99999999.pdf", cookie)[0] == 404


def test_regenerated_or_deleted_link_shows_generic_page(server, page):
    from portal_app.billing.portal_links import issue_portal_link
    from portal_app.billing.subscriptions import delete_subscription

    subscriber_id, token = make_subscriber(server["engine"])
    open_portal(page, server, token)  # a live session from the old link
    with Session(server["engine"], expire_on_commit=False) as session:
        new_token = issue_portal_link(session, session.get(Subscriber, subscriber_id))
        session.commit()
    page.goto(f"{server['base_url']}/portal/{token}")
    page.get_by_role("heading", name="This link is no longer valid").wait_for()
    page.goto(f"{server['base_url']}/portal")  # the old link's session died with it
    page.get_by_role("heading", name="This link is no longer valid").wait_for()
    open_portal(page, server, new_token)
    with Session(server["engine"], expire_on_commit=False) as session:
        sub = _subscription(server["engine"], subscriber_id)
        delete_subscription(session, sub.id, merchant_id=sub.merchant_id, actor="test", now=utcnow())
        session.commit()
    page.goto(f"{server['base_url']}/portal/{new_token}")
    page.get_by_role("heading", name="This link is no longer valid").wait_for()


def test_overview_is_responsive_and_accessible(server, page):
    _, token = make_subscriber(server["engine"])
    open_portal(page, server, token)
    assert "Your card will be charged $29.00 on" in page.get_by_test_id("next-line").inner_text()
    assert page.get_by_text("Next review date").is_visible()
    assert_no_horizontal_scroll(page)
    assert_tap_targets(page)
    assert_accessible(page)
    screenshot(page, "portal-active")
