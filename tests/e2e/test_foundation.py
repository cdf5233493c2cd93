"""The wiring a user touches first: console sign-in page, demo portal links, invalid links."""

from __future__ import annotations

import re
import urllib.error
import urllib.request

import pytest
from playwright.sync_api import expect

from portal_app.billing import demo

from .conftest import assert_no_horizontal_scroll, screenshot

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def demo_links(server):
    """(name, plan, status, token) for every demo subscriber, freshly issued."""
    return demo.demo_portal_links(server["engine"])


def test_console_login_page_renders(server, page):
    page.goto(f"{server['base_url']}/console")
    page.get_by_role("heading", name="Merchant console").wait_for()
    assert page.get_by_label("Email").is_visible()
    assert page.get_by_label("Password").is_visible()
    assert page.get_by_role("button", name="Sign in").is_visible()
    assert_no_horizontal_scroll(page)
    screenshot(page, "console-login")


def test_each_demo_link_opens_its_subscribers_portal(server, page, demo_links):
    assert len(demo_links) >= 4
    for name, plan, status, token in demo_links:
        page.goto(f"{server['base_url']}/portal/{token}")
        page.get_by_test_id("plan-name").wait_for()
        # The token is swapped for a session cookie before the page loads.
        assert token not in page.url
        assert page.url.rstrip("/").endswith("/portal")
        # The same tab keeps its Reflex state between links: wait until this link's data is in.
        expect(page.get_by_test_id("subscriber-name")).to_have_text(re.compile(f"^(Hello|Hola), {re.escape(name)}$"))
        assert page.get_by_test_id("plan-name").inner_text() == plan
        shown = page.get_by_test_id("subscription-status").get_attribute("data-status")
        assert shown == status or (shown == "canceling" and status == "active")
        assert page.get_by_role("status").filter(has_text=re.compile("Test mode|Modo de prueba")).is_visible()
        assert_no_horizontal_scroll(page)
        cookie = next(c for c in page.context.cookies() if c["name"] == "portal_session")
        assert cookie["httpOnly"] and cookie["value"] != token
    screenshot(page, "portal-overview")


@pytest.mark.parametrize("bad", ["nope", "A" * 43, "%00%27%22<script>", "x" * 5000])
def test_invalid_tokens_show_the_generic_page(server, page, bad):
    # nginx itself answers 400 to a NUL byte in the path; the app's own answer is asked directly.
    base = server["backend_url"] if "%00" in bad else server["base_url"]
    page.goto(f"{base}/portal/{bad}")
    page.get_by_role("heading", name="This link is no longer valid").wait_for()
    assert "/invalid-link" in page.url
    screenshot(page, "invalid-link")


def test_portal_without_a_session_shows_the_generic_page(server, page):
    page.goto(f"{server['base_url']}/portal")
    page.get_by_role("heading", name="This link is no longer valid").wait_for()


def test_regenerated_link_stops_working(server, page):
    links = demo.demo_portal_links(server["engine"], renew=True)  # issuing new links revokes the old ones
    old_token = links[0][3]
    demo.demo_portal_links(server["engine"], renew=True)
    page.goto(f"{server['base_url']}/portal/{old_token}")
    page.get_by_test_id("invalid-heading").wait_for()
    assert "reason=revoked" in page.url


def _head(url: str):
    req = urllib.request.Request(url, method="GET")
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        return opener.open(req, timeout=10)
    except urllib.error.HTTPError as err:
        return err


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def test_hashed_frontend_assets_are_cached_for_good_and_pages_never(server):
    html = urllib.request.urlopen(f"{server['base_url']}/console", timeout=30).read().decode()
    assets = sorted(set(re.findall(r'"(/assets/[^"?#]+\.(?:js|css))"', html)))
    assert assets, "the login page names no built asset"
    for path in assets[:3]:
        resp = _head(f"{server['base_url']}{path}")
        assert resp.status == 200 and resp.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    missing = _head(f"{server['base_url']}/assets/no-such-file-0000.js")
    assert "immutable" not in (missing.headers.get("Cache-Control") or "")


def test_portal_responses_carry_privacy_headers(server):
    token = demo.demo_portal_links(server["engine"])[0][3]
    resp = _head(f"{server['base_url']}/portal/{token}")
    assert resp.status == 303 and resp.headers["Location"] == "/portal"
    assert resp.headers["Referrer-Policy"] == "no-referrer"
    assert resp.headers["Cache-Control"] == "no-store"
    assert "HttpOnly" in resp.headers["Set-Cookie"]
    page_resp = _head(f"{server['base_url']}/portal/")
    assert page_resp.headers["Referrer-Policy"] == "no-referrer"
    assert page_resp.headers["Cache-Control"] == "no-store"


def test_invalid_link_page_sends_a_new_link_with_one_answer_for_all(server, page):
    from sqlmodel import Session, select

    from portal_app.models import EmailMessage

    page.goto(f"{server['base_url']}/portal/expired-or-unknown")
    answers = []
    for email in ("marcus.chen@example.com", "stranger@example.com"):
        page.get_by_label("Email").fill(email)
        page.get_by_role("button", name="Send me a new link").click()
        answer = page.get_by_test_id("new-link-answer")
        answer.wait_for()
        answers.append(answer.inner_text())
    assert answers[0] == answers[1] and "active subscription" in answers[0]  # true whether or not one was sent
    with Session(server["engine"]) as session:
        kinds = session.exec(select(EmailMessage.to_address).where(EmailMessage.kind == "new_link")).all()
    assert "marcus.chen@example.com" in kinds and "stranger@example.com" not in kinds


def test_scale_out_configuration_uses_postgres_and_redis(server, page):
    """Only for the scale-out server: its rows are in PostgreSQL, its Reflex state and rate limits
    in Redis (shared by every worker)."""
    if server["kind"] != "scale-out":
        pytest.skip("scale-out configuration only")
    import os

    import redis

    client = redis.Redis.from_url(os.environ["TEST_REDIS_URL"])
    assert server["database_url"].startswith("postgresql")
    before_keys = client.dbsize()
    limit_keys = len(client.keys("portal:rl:invalid-token:*"))
    page.goto(f"{server['base_url']}/portal/{'B' * 43}")
    page.get_by_role("heading", name="This link is no longer valid").wait_for()
    assert len(client.keys("portal:rl:invalid-token:*")) >= max(1, limit_keys)
    token = demo.demo_portal_links(server["engine"])[0][3]
    page.goto(f"{server['base_url']}/portal/{token}")
    page.get_by_test_id("plan-name").wait_for()
    assert client.dbsize() > before_keys  # the portal session's Reflex state lives in Redis
