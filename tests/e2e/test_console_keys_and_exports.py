"""Settings → API keys and the CSV exports, driven in Chromium like a merchant: create a key (the
secret shown once, copied, gone when the dialog closes, never stored by Reflex), revoke it; download
the subscribers CSV with the list's search and the invoices CSV by status, and read the files."""

from __future__ import annotations

import csv
import io
import time
from pathlib import Path

import pytest
from sqlmodel import Session, select

from portal_app import routes
from portal_app.billing import api_keys, demo
from portal_app.models import Invoice, Merchant

from .conftest import AXE_JS, assert_accessible, assert_no_horizontal_scroll, assert_tap_targets, screenshot
from .test_session_secrets import _found, _stored_blobs

pytestmark = pytest.mark.e2e


def _sign_in(page, base: str) -> None:
    page.goto(f"{base}{routes.CONSOLE}")
    page.get_by_label("Email").fill(demo.OWNER_EMAIL)
    page.get_by_label("Password").fill(demo.DEMO_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="Dashboard").wait_for()


def _csv_rows(download) -> tuple[bytes, list[dict]]:
    data = Path(download.path()).read_bytes()
    return data, list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))


def test_an_api_key_is_shown_once_copied_never_stored_and_revoked(server, page):
    base, engine = server["base_url"], server["engine"]
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=base)
    _sign_in(page, base)
    page.goto(f"{base}{routes.CONSOLE_SETTINGS}")
    page.get_by_role("heading", name="API keys").wait_for()
    name = f"CRM sync {page.viewport_name} {server['kind']}"
    page.get_by_label("Name (optional)").fill(name)
    page.get_by_role("button", name="Create API key").click()
    dialog = page.get_by_role("dialog", name="Your new API key")
    dialog.wait_for()
    secret = page.get_by_test_id("api-key-secret").input_value()
    assert secret.startswith("spk_") and len(secret) == 47
    dialog.get_by_text("you won't see it again", exact=False).wait_for()
    row = page.get_by_test_id("api-key-row").filter(has_text=name)
    row.wait_for()
    assert secret[:10] + "…" in row.inner_text() and "Never" in row.inner_text() and secret not in row.inner_text()
    screenshot(page, "settings-api-key-created")
    dialog.get_by_role("button", name="Copy").click()
    page.get_by_text("API key copied.").wait_for()
    assert page.evaluate("navigator.clipboard.readText()") == secret
    dialog.get_by_role("button", name="Done").click()
    dialog.wait_for(state="hidden")
    assert page.get_by_test_id("api-key-secret").input_value() == ""  # gone from the page too
    assert secret not in page.content()

    with Session(engine) as session:
        identity = api_keys.authenticate(session, secret)
        session.commit()
        acme = session.exec(select(Merchant).where(Merchant.slug == demo.MERCHANT_SLUG)).one()
    assert identity is not None and identity.merchant_id == acme.id

    page.reload()
    row = page.get_by_test_id("api-key-row").filter(has_text=name)
    row.wait_for()
    if AXE_JS.exists():  # axe-core comes from tools/ (npm); this machine's tools/ has bun only
        assert_accessible(page)
    assert_tap_targets(page)
    assert_no_horizontal_scroll(page)
    screenshot(page, "settings-api-keys")
    row.get_by_role("button", name=f"Revoke {name}").click()
    confirm = page.get_by_role("alertdialog")
    confirm.get_by_text(secret[:10], exact=False).wait_for()
    confirm.get_by_role("button", name="Revoke key").click()
    page.get_by_text("revoked. It no longer works.", exact=False).wait_for()
    row.get_by_text("Revoked", exact=False).wait_for()
    with Session(engine) as session:
        assert api_keys.authenticate(session, secret) is None

    time.sleep(4)  # the disk state manager writes after a 2 s debounce
    blobs = _stored_blobs(server)
    assert _found(blobs, secret[:10]), "the scan looks where the key list is stored"
    assert not _found(blobs, secret) and not _found(blobs, secret[4:])


def test_export_buttons_download_the_lists_csv(server, page):
    base, engine = server["base_url"], server["engine"]
    _sign_in(page, base)
    page.goto(f"{base}{routes.CONSOLE_SUBSCRIBERS}")
    page.get_by_role("heading", name="Subscribers", level=1).wait_for()
    page.get_by_label("Name or email").fill("example.com")
    page.get_by_role("button", name="Search").click()
    page.get_by_test_id("subscriber-row").first.wait_for()
    page.wait_for_function(
        "() => document.querySelector('[data-testid=export-subscribers]').href.includes('query=example.com')"
    )
    shown = page.get_by_test_id("subscriber-link").all_inner_texts()
    assert demo.GLOBEX.name not in shown and demo.ZOE.name in shown  # the search filtered the list
    assert_tap_targets(page)
    assert_no_horizontal_scroll(page)
    screenshot(page, "subscribers-export")
    with page.expect_download() as info:
        page.get_by_test_id("export-subscribers").click()
    data, rows = _csv_rows(info.value)
    assert info.value.suggested_filename.startswith("subscribers-") and data.startswith(b"\xef\xbb\xbf")
    assert [r["name"] for r in rows][: len(shown)] == shown  # the screen's rows, in its order
    assert {r["email"] for r in rows} >= {demo.ZOE.email, demo.MARCUS.email}

    page.get_by_label("Status", exact=True).last.select_option("paid")
    with page.expect_download() as info:
        page.get_by_test_id("export-invoices").click()
    _, invoices = _csv_rows(info.value)
    with Session(engine) as session:
        acme = session.exec(select(Merchant).where(Merchant.slug == demo.MERCHANT_SLUG)).one()
        paid = session.exec(
            select(Invoice.number).where(Invoice.merchant_id == acme.id, Invoice.status == "paid").order_by(Invoice.id)
        ).all()
    assert invoices and [r["number"] for r in invoices] == list(paid)
    assert all(r["status"] == "paid" and r["currency"] and "." in r["total"] for r in invoices)
    assert page.url.startswith(f"{base}{routes.CONSOLE_SUBSCRIBERS}")  # the page stayed where it was
