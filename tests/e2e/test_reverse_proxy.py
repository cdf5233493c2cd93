"""Behind a real reverse proxy (Debian's nginx, tests/e2e/nginx.conf: Host rewritten to the upstream,
X-Forwarded-For appended, WebSocket upgrades on /_event): the console signs in without a 403, the
portal runs over the proxied socket, and every rate limit counts each visitor on its own, while a
spoofed X-Forwarded-For from a client that is not a trusted proxy changes nothing."""

from __future__ import annotations

import random
import uuid

import pytest
from sqlmodel import Session, select

from portal_app import routes
from portal_app.billing import demo
from portal_app.models import EmailMessage, Merchant, Subscriber

from .conftest import VIEWPORTS, make_subscriber, screenshot
from .proxied import UNTRUSTED_PEER, console_sign_in, open_link, request_new_links
from .socket_client import ReflexSocket

pytestmark = pytest.mark.e2e


def test_console_and_portal_work_through_the_proxy(server, browser):
    proxy_port = server["base_url"].rsplit(":", 1)[1]
    context = browser.new_context(viewport=VIEWPORTS["desktop"])
    page = context.new_page()
    page.viewport_name = "desktop"
    sockets = []
    page.on("websocket", lambda ws: sockets.append(ws.url))
    answers = []
    page.on("response", lambda r: answers.append((r.request.method, r.url, r.status)))
    try:
        page.goto(f"{server['base_url']}/console")
        page.get_by_label("Email").fill(demo.OWNER_EMAIL)
        page.get_by_label("Password").fill(demo.DEMO_PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.get_by_role("heading", name="Dashboard").wait_for()
        login = [a for a in answers if a[0] == "POST" and a[1].endswith(routes.API_CONSOLE_LOGIN)]
        assert login and login[0][2] == 303, login
        page.get_by_role("navigation", name="Console").get_by_role("link", name="Subscribers").click()
        # The merchant's data, over the proxied socket (searched: other tests add subscribers before "M").
        page.get_by_label("Name or email").fill(demo.MARCUS.name)
        page.get_by_role("button", name="Search").click()
        page.get_by_test_id("subscriber-row").filter(has_text=demo.MARCUS.name).wait_for()
        screenshot(page, "proxy-console")

        _, token = make_subscriber(server["engine"], name="Proxy Person")
        page.goto(f"{server['base_url']}/portal/{token}")
        page.get_by_test_id("plan-name").wait_for()
        page.get_by_text("Proxy Person").first.wait_for()
        screenshot(page, "proxy-portal")
    finally:
        context.close()
    # Chromium sends "Origin: null" on our no-referrer form posts; a browser that names the origin
    # (or a fetch) is compared with PUBLIC_URL, not with the Host nginx rewrote: no 403.
    console_sign_in(server)
    assert sockets and all(url.startswith(f"ws://localhost:{proxy_port}/_event") for url in sockets), sockets
    log = server["proxy"].access_log()
    assert "GET /_event/ 101" in log and f"POST {routes.API_CONSOLE_LOGIN} 303" in log


def test_invalid_links_lock_out_only_the_client_that_sent_them(server):
    """The headline failure behind a proxy: 60 bad links from one visitor used to lock every
    subscriber out. Visitors are told apart by the trusted chain; a spoofing client is not."""
    _, token = make_subscriber(server["engine"], name="Locked Out Maybe")
    guesser, neighbour = _addresses(2)
    for _ in range(60):
        assert open_link(server, f"bad-{uuid.uuid4().hex}", xff=guesser) == routes.PORTAL_INVALID
    assert open_link(server, token, xff=guesser) == routes.PORTAL_INVALID  # over its limit
    assert open_link(server, token, xff=neighbour) == routes.PORTAL  # another visitor, own bucket
    assert open_link(server, token) == routes.PORTAL  # the browser tests' own client (127.0.0.1)

    # A client that is not a trusted proxy cannot split its bucket with a new header per request,
    # nor spend anyone else's by naming them.
    for n in range(60):
        spoof = neighbour if n == 0 else f"198.51.100.{n}"
        open_link(server, f"bad-{uuid.uuid4().hex}", xff=spoof, source=UNTRUSTED_PEER)
    assert open_link(server, token, xff="198.51.100.200", source=UNTRUSTED_PEER) == routes.PORTAL_INVALID
    assert open_link(server, token, xff=neighbour) == routes.PORTAL
    # nginx saw the spoofing peer as itself and appended it to the chain the app walked.
    assert f'{UNTRUSTED_PEER} "198.51.100.200"' in server["proxy"].access_log()


def test_socket_events_count_the_client_behind_the_proxy(server):
    """The invalid-link page's "send me a new link" (10 per client per hour) runs over Reflex's
    socket, whose client address Reflex takes from the handshake: each visitor has its own."""
    emails = _subscribers_with_emails(server["engine"], 4)
    first, second = _addresses(2)
    # 11 requests from one visitor, spread so that no address passes its own limit (3 per email).
    with ReflexSocket(server["base_url"], headers={"X-Forwarded-For": first}) as sock:
        request_new_links(sock, [emails[n % 4] for n in range(11)])
    assert _new_link_emails(server["engine"], emails) == 10  # the eleventh was over the visitor's limit
    with ReflexSocket(server["base_url"], headers={"X-Forwarded-For": second}) as sock:
        request_new_links(sock, [emails[3]])  # emails[3] got only two so far
    assert _new_link_emails(server["engine"], emails) == 11  # another visitor: its own bucket


def _addresses(count: int) -> list[str]:
    """Distinct visitor addresses that no other test is likely to have used (198.18.0.0/15)."""
    picked: set[str] = set()
    while len(picked) < count:
        picked.add(f"198.{random.randint(18, 19)}.{random.randint(0, 255)}.{random.randint(1, 254)}")
    return sorted(picked)


def _subscribers_with_emails(engine, count: int) -> list[str]:
    with Session(engine) as session:
        merchant = session.exec(select(Merchant).where(Merchant.slug == demo.MERCHANT_SLUG)).one()
        emails = [f"new-link-{uuid.uuid4().hex[:10]}@example.com" for _ in range(count)]
        session.add_all(
            Subscriber(merchant_id=merchant.id, name=f"Link Asker {n}", email=e) for n, e in enumerate(emails)
        )
        session.commit()
    return emails


def _new_link_emails(engine, emails: list[str]) -> int:
    with Session(engine) as session:
        sent = session.exec(select(EmailMessage).where(EmailMessage.kind == "new_link")).all()
    return sum(1 for message in sent if message.to_address in emails)
