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
from playwright.sync_api import expect
from sqlmodel import Session, select

from portal_app.billing import demo
from portal_app.billing.gateways.simulated import SimulatedGateway
from portal_app.billing.gateways.simulated_tokens import tokenize_card
from portal_app.billing.payments.cards import ensure_gateway_customer, save_card
from portal_app.billing.portal_links import revoke_portal_links
from portal_app.models import EmailMessage, Invoice, Merchant, Plan, Subscriber, Subscription, utcnow

from .conftest import (
    assert_accessible,
    assert_no_horizontal_scroll,
    assert_tap_targets,
    make_subscriber,
    open_portal,
    screenshot,
)

pytestmark = pytest.mark.e2e


def _fill_card(page, number: str, expiry: str = "12/30", cvc: str = "123", opener: str = "Edit payment method") -> None:
    page.get_by_role("button", name=opener).click()
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


def _merchant(engine) -> Merchant:
    with Session(engine) as session:
        return session.exec(select(Merchant).where(Merchant.slug == demo.MERCHANT_SLUG)).one()


def _set_merchant(engine, **values) -> None:
    with Session(engine) as session:
        merchant = session.exec(select(Merchant).where(Merchant.slug == demo.MERCHANT_SLUG)).one()
        for key, value in values.items():
            setattr(merchant, key, value)
        session.add(merchant)
        session.commit()


def _put_card_on_file(engine, subscriber_id: int, number: str) -> None:
    """A new default card through the gateway, without retrying the open invoices (as if saved elsewhere)."""
    gateway = SimulatedGateway()
    with Session(engine, expire_on_commit=False) as session:
        subscriber = session.get(Subscriber, subscriber_id)
    typed = {"number": number, "exp_month": "12", "exp_year": str(utcnow().year + 3), "cvc": "123"}
    customer = ensure_gateway_customer(engine, subscriber, gateway)
    setup = gateway.attach_card(customer_ref=customer, card_input={"payment_method": tokenize_card(typed).id})
    save_card(engine, subscriber, setup.card, gateway, actor="test", now=utcnow())


def _open_invoices(engine, subscriber_id: int) -> list[Invoice]:
    with Session(engine) as session:
        return session.exec(
            select(Invoice).where(Invoice.subscriber_id == subscriber_id, Invoice.status == "open")
        ).all()


def test_past_due_subscriber_fixes_card_and_is_active_again(server, page):
    subscriber_id, token = make_subscriber(server["engine"], state="past_due")
    frames = _record_socket_frames(page)
    open_portal(page, server, token)
    assert _status(page) == "past_due"
    # The fix first: an alert at the top naming the amount and why, with one primary action.
    alert = page.get_by_role("alert").filter(has_text="didn't go through")
    assert alert.get_by_test_id("fix-title").inner_text() == "Your payment of $29.00 didn't go through"
    assert "Your bank declined the payment." in alert.get_by_test_id("fix-body").inner_text()
    action = alert.get_by_role("button", name="Update card and pay $29.00")
    assert action.is_visible()
    main_top = page.locator("main").bounding_box()["y"]
    assert alert.bounding_box()["y"] - main_top < 120, "the alert leads the page"
    # Nothing reads as if all were well, and Cancel is secondary (gray outline, after the fix).
    assert page.get_by_test_id("next-date").count() == 0 and page.get_by_test_id("next-line").count() == 0
    cancel = page.get_by_test_id("cancel-button")
    assert cancel.get_attribute("data-accent-color") == "gray" and "rt-variant-outline" in cancel.get_attribute("class")
    assert cancel.bounding_box()["y"] > action.bounding_box()["y"]
    assert_accessible(page)
    assert_tap_targets(page)

    _fill_card(page, "4242 4242 4242 4242", opener="Update card and pay $29.00")
    result = page.get_by_test_id("card-result")
    result.wait_for()
    assert "Payment of $29.00 succeeded — your subscription is active again" in result.inner_text()
    page.wait_for_function("document.querySelector('[data-testid=subscription-status]').dataset.status === 'active'")
    assert page.get_by_test_id("card-label").inner_text() == "Visa ending in 4242"
    assert "Paid" in page.get_by_test_id("invoice-row").first.inner_text().split()
    assert page.get_by_test_id("fix-alert").count() == 0
    page.get_by_text("Payment of $29.00 succeeded").last.wait_for()  # the toast says it too
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
    page.get_by_label("Card number").fill("378282246310005")
    assert page.get_by_label("Card number").input_value() == "3782 822463 10005"
    assert page.get_by_test_id("card-brand").inner_text() == "American Express"
    page.get_by_label("Card number").fill("4242424242424242")  # grouped by four, brand shown as typed
    assert page.get_by_label("Card number").input_value() == "4242 4242 4242 4242"
    assert page.get_by_test_id("card-brand").inner_text() == "Visa"
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
    page.get_by_text("Your subscription ends on").wait_for()  # toast
    assert "Access ends on" in page.get_by_test_id("next-line").inner_text()
    sub = _subscription(server["engine"], subscriber_id)
    assert sub.cancel_at_period_end and sub.cancellation_reason == "too_expensive: Prices went up"
    screenshot(page, "portal-canceled")
    page.get_by_role("button", name="Undo cancellation").click()
    page.get_by_role("button", name="Cancel subscription").wait_for()
    page.get_by_text("Your subscription continues.").wait_for()  # toast
    assert not _subscription(server["engine"], subscriber_id).cancel_at_period_end


def test_plan_that_forbids_self_cancel_shows_no_button(server, page):
    _, token = make_subscriber(server["engine"], plan="Pro Yearly")
    open_portal(page, server, token)
    assert page.get_by_test_id("cancel-not-allowed").is_visible()
    assert page.get_by_role("button", name="Cancel subscription").count() == 0
    contact = page.get_by_test_id("cancel-contact")
    assert contact.get_attribute("href") == f"mailto:{_merchant(server['engine']).support_email}"


def test_language_switch_to_spanish(server, page):
    _, token = make_subscriber(server["engine"])
    open_portal(page, server, token)
    page.get_by_role("combobox", name="Language").click()
    page.get_by_role("option", name="Español").click()
    page.get_by_role("heading", name="Método de pago").wait_for()
    page.get_by_text("El portal ahora está en español.").wait_for()  # toast
    assert "Próxima fecha de revisión" in page.content()
    assert re.search(r"\d+,\d\d\s?US\$", page.get_by_test_id("next-amount").inner_text())


def _get(url: str, cookie: str = ""):
    req = urllib.request.Request(url, headers={"Cookie": cookie} if cookie else {})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, resp.headers, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, err.headers, err.read()


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def _status_and_location(url: str) -> tuple[int, str]:
    """The first answer to a GET without cookies, redirects not followed."""
    try:
        with urllib.request.build_opener(_NoRedirect).open(url, timeout=30) as resp:
            return resp.status, resp.headers.get("Location", "")
    except urllib.error.HTTPError as err:
        return err.code, err.headers.get("Location", "")


def _cookie_header(page) -> str:
    return "; ".join(f"{c['name']}={c['value']}" for c in page.context.cookies())


def test_tax_season_year_zip_has_twelve_readable_pdfs(server, page, tmp_path):
    token = next(link.token for link in demo.demo_portal_links(server["engine"]) if link.name == "Globex Corporation")
    open_portal(page, server, token)
    last_year = datetime.now().year - 1
    # Grouped by year, newest first; the first six rows, then "Show more".
    assert page.get_by_test_id("invoice-row").count() == 6
    while page.get_by_role("link", name=f"Download all (12): the {last_year} invoices").count() == 0:
        page.get_by_role("button", name="Show more invoices").click()
        page.wait_for_timeout(300)
    years = [int(h) for h in page.locator("main h3").all_inner_texts()]
    assert years == sorted(years, reverse=True) and last_year in years
    assert page.get_by_test_id("invoice-row").count() > 6
    screenshot(page, "portal-invoice-history")
    assert_no_horizontal_scroll(page)
    button = page.get_by_role("link", name=f"Download all (12): the {last_year} invoices")
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
    # Without a session: no PDF, the browser is sent to the explained invalid-link page.
    assert _status_and_location(f"{base}/{a_invoice.id}.pdf") == (303, "/invalid-link?reason=ended")
    assert _get(f"{base}/99999999.pdf", cookie)[0] == 404


def test_regenerated_or_deleted_link_says_why(server, page):
    from portal_app.billing.portal_links import issue_portal_link
    from portal_app.billing.subscriptions import delete_subscription

    subscriber_id, token = make_subscriber(server["engine"])
    open_portal(page, server, token)  # a live session from the old link
    with Session(server["engine"], expire_on_commit=False) as session:
        new_token = issue_portal_link(session, session.get(Subscriber, subscriber_id))
        session.commit()
    page.goto(f"{server['base_url']}/portal/{token}")
    page.get_by_role("heading", name="This link was replaced by a newer one").wait_for()
    page.goto(f"{server['base_url']}/portal")  # the old link's session died with it
    page.get_by_role("heading", name="Your session has ended").wait_for()
    open_portal(page, server, new_token)
    with Session(server["engine"], expire_on_commit=False) as session:
        sub = _subscription(server["engine"], subscriber_id)
        delete_subscription(session, sub.id, merchant_id=sub.merchant_id, actor="test", now=utcnow())
        session.commit()
    page.goto(f"{server['base_url']}/portal/{new_token}")
    page.get_by_role("heading", name="This subscription was removed").wait_for()


def test_overview_is_responsive_and_accessible(server, page):
    _, token = make_subscriber(server["engine"])
    open_portal(page, server, token)
    assert "Your card will be charged $29.00 on" in page.get_by_test_id("next-line").inner_text()
    assert page.get_by_text("Next review date").is_visible()
    assert_no_horizontal_scroll(page)
    assert_tap_targets(page)
    assert_accessible(page)
    screenshot(page, "portal-active")


def test_pay_now_charges_the_card_on_file(server, page):
    engine = server["engine"]
    subscriber_id, token = make_subscriber(engine, state="past_due")
    open_portal(page, server, token)
    (invoice,) = _open_invoices(engine, subscriber_id)
    row = page.get_by_test_id("invoice-item").filter(has_text=invoice.number)
    # The card on file still declines: the same words as the card form, the invoice stays open.
    row.get_by_role("button", name=f"Pay now: invoice {invoice.number}").click()
    page.get_by_test_id("pay-result").filter(has_text="check with your bank").wait_for()
    assert [i.id for i in _open_invoices(engine, subscriber_id)] == [invoice.id]
    assert _status(page) == "past_due"

    _put_card_on_file(engine, subscriber_id, "4242424242424242")
    row.get_by_role("button", name=f"Pay now: invoice {invoice.number}").click()
    page.get_by_test_id("pay-result").filter(has_text="Payment of $29.00 succeeded").wait_for()
    page.wait_for_function("document.querySelector('[data-testid=subscription-status]').dataset.status === 'active'")
    assert _open_invoices(engine, subscriber_id) == []
    assert _subscription(engine, subscriber_id).status == "active"
    assert row.get_by_test_id("pay-now").count() == 0
    assert page.get_by_test_id("fix-alert").count() == 0


def test_incomplete_subscription_explains_the_first_payment(server, page):
    _, token = make_subscriber(server["engine"], state="incomplete")
    open_portal(page, server, token)
    assert _status(page) == "incomplete"
    alert = page.get_by_test_id("fix-alert")
    assert alert.get_attribute("role") == "alert"
    assert "Your first payment of $29.00 didn't go through" in alert.inner_text()
    assert "starts as soon as the first payment is made" in alert.inner_text()
    assert alert.get_by_role("button", name="Update card and pay $29.00").is_visible()
    assert page.get_by_test_id("pay-now").count() == 1


def test_open_tab_whose_link_was_revoked_moves_to_the_invalid_page(server, page):
    engine = server["engine"]
    subscriber_id, token = make_subscriber(engine)
    open_portal(page, server, token)
    page.wait_for_timeout(1500)  # the page's on_mount events are answered while the link still works
    with Session(engine) as session:
        revoke_portal_links(session, merchant_id=_merchant(engine).id, subscriber_id=subscriber_id)
        session.commit()
    page.get_by_role("button", name="Edit payment method").click()
    page.wait_for_url(re.compile(r"/invalid-link\?"))
    assert "reason=ended" in page.url and f"m={demo.MERCHANT_SLUG}" in page.url and "lang=en" in page.url


def test_merchant_contact_return_link_and_brand_colour(server, page):
    engine = server["engine"]
    merchant = _merchant(engine)
    _set_merchant(engine, website_url="https://acme.example/account", brand_color="#6D28D9")
    try:
        _, token = make_subscriber(engine, state="past_due")
        open_portal(page, server, token)
        back = page.get_by_test_id("return-link")
        assert back.inner_text().strip() == f"Return to {merchant.name}"
        assert back.get_attribute("href") == "https://acme.example/account"
        assert back.get_attribute("rel") == "noreferrer"
        contact = page.get_by_test_id("contact-link")
        assert page.get_by_test_id("contact-line").inner_text().startswith("Questions? Contact")
        assert contact.get_attribute("href") == f"mailto:{merchant.support_email}"
        background = page.get_by_test_id("fix-action").evaluate("e => getComputedStyle(e).backgroundColor")
        assert background == "rgb(109, 40, 217)"
        # The signup page shares the look: the brand colour is its accent too.
        with Session(engine) as session:
            plan = session.exec(select(Plan).where(Plan.merchant_id == merchant.id, Plan.active)).first()
        page.goto(f"{server['base_url']}/signup/{demo.MERCHANT_SLUG}/{plan.id}")
        signup = page.get_by_test_id("signup-page")
        signup.wait_for()
        accent = signup.evaluate("e => getComputedStyle(e).getPropertyValue('--accent-9').trim()")
        assert accent.upper() == "#6D28D9"
    finally:
        _set_merchant(engine, website_url="", brand_color="")
    open_portal(page, server, token)
    # The same tab rehydrates its last state first (the cleared website shows until on_load's refresh).
    expect(page.get_by_test_id("return-link")).to_have_count(0)
    background = page.get_by_test_id("fix-action").evaluate("e => getComputedStyle(e).backgroundColor")
    assert background == "rgb(13, 116, 206)"  # the house default


def test_the_page_loads_as_a_skeleton_of_its_layout(server):
    status, _, body = _get(f"{server['base_url']}/portal")
    assert status == 200
    assert b'data-testid="portal-skeleton"' in body and b"rt-Spinner" not in body
