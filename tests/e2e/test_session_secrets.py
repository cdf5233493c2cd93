"""Nothing secret at rest, and a stolen client token opens nothing: after a merchant signs in,
copies a portal link and opens that portal, no cookie value, portal token or portal URL is in any
state Reflex stored (`.states/` on disk, every Redis key and value); and a raw Socket.IO client
replaying a captured client token, without the cookie or with someone else's, gets none of the
victim's data from the stored state."""

from __future__ import annotations

import time
import urllib.error
import urllib.request

import pytest
import redis
import reflex as rx
from sqlmodel import Session, select

from portal_app import routes
from portal_app.billing import demo
from portal_app.models import Invoice, Subscriber

from .conftest import ROOT, TEST_REDIS_URL, VIEWPORTS, make_subscriber
from .socket_client import ReflexSocket

pytestmark = pytest.mark.e2e

STATES_DIR = ROOT / ".states"  # `reflex run` runs in the repository root; REFLEX_STATES_WORKDIR is unset
HYDRATE = rx.State.get_full_name() + ".hydrate_and_load"


def _subscriber(engine, email: str) -> Subscriber:
    with Session(engine) as session:
        return session.exec(select(Subscriber).where(Subscriber.email == email)).one()


def _invoice_numbers(engine, subscriber_id: int) -> list[str]:
    with Session(engine) as session:
        rows = session.exec(select(Invoice.number).where(Invoice.subscriber_id == subscriber_id)).all()
    return [n for n in rows if n]


def _context(browser, base: str):
    context = browser.new_context(viewport=VIEWPORTS["desktop"])
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=base)
    page = context.new_page()
    page.viewport_name = "desktop"
    return context, page


def _sign_in(page, base: str) -> None:
    page.goto(f"{base}{routes.CONSOLE}")
    page.get_by_label("Email").fill(demo.OWNER_EMAIL)
    page.get_by_label("Password").fill(demo.DEMO_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="Dashboard").wait_for()


def _stored_blobs(server) -> list[tuple[str, bytes]]:
    """Everything Reflex stored for this server: each `.states` file, or each Redis key and value."""
    if server["kind"] != "scale-out":
        return [(str(path), path.read_bytes()) for path in STATES_DIR.rglob("*") if path.is_file()]
    client = redis.Redis.from_url(TEST_REDIS_URL)
    blobs = []
    for key in client.scan_iter(count=500):
        kind = client.type(key).decode()
        if kind == "string":
            values = [client.get(key) or b""]
        elif kind == "hash":
            values = [b for pair in client.hgetall(key).items() for b in pair]
        elif kind == "list":
            values = client.lrange(key, 0, -1)
        elif kind == "set":
            values = list(client.smembers(key))
        elif kind == "zset":
            values = client.zrange(key, 0, -1)
        elif kind == "stream":
            values = [repr(client.xrange(key)).encode()]
        else:
            values = []
        blobs.append((key.decode(errors="replace"), key + b"\0" + b"\0".join(values)))
    return blobs


def _found(blobs, needle: str) -> list[str]:
    return [where for where, blob in blobs if needle.encode() in blob]


def test_no_cookie_token_or_portal_url_is_stored_by_reflex(server, browser):
    base, engine = server["base_url"], server["engine"]
    globex = _subscriber(engine, demo.GLOBEX.email)
    demo_link = next(link for link in demo.demo_portal_links(engine) if link.name == globex.name)
    context, page = _context(browser, base)
    _sign_in(page, base)
    page.goto(f"{base}{routes.console_subscriber_url(globex.id)}")
    page.get_by_test_id("profile-name").filter(has_text=globex.name).wait_for()

    # Copy, then show, the portal link: the browser fetches it from our route; it opens the portal.
    page.get_by_role("button", name="Copy link").click()
    page.get_by_text("Portal link copied.").wait_for()
    url = page.evaluate("navigator.clipboard.readText()")
    assert url == f"{base}/portal/{demo_link.token}"
    page.get_by_role("button", name="Show link").click()
    page.wait_for_function("(u) => document.querySelector('[data-testid=portal-url]').value === u", arg=url)
    # The invitation carries the link; the outbox page shows the email (its state is stored too).
    page.get_by_role("button", name="Send invitation email").click()
    page.get_by_text("Invitation sent to", exact=False).wait_for()
    page.goto(f"{base}{routes.CONSOLE_OUTBOX}")
    page.get_by_test_id("outbox-message").filter(has_text=globex.email).first.wait_for()
    page.goto(url)  # a demo subscriber's link, in the browser that holds the console session too
    page.get_by_test_id("subscriber-name").filter(has_text=globex.name).wait_for()
    page.get_by_text("1 Globex Plaza", exact=False).first.wait_for()

    cookies = {c["name"]: c["value"] for c in context.cookies()}
    secrets = {
        "console cookie": cookies[routes.CONSOLE_SESSION_COOKIE],
        "portal cookie": cookies[routes.PORTAL_SESSION_COOKIE],
        "portal token": url.rsplit("/", 1)[1],
        "portal URL": url,
    }
    context.close()
    time.sleep(4)  # the disk state manager writes after a 2 s debounce
    blobs = _stored_blobs(server)
    # The scan looks where the states are: the portal's and the console's data are there.
    assert _found(blobs, "1 Globex Plaza") and _found(blobs, "Acme Fitness"), [w for w, _ in blobs][:20]
    leaks = {what: _found(blobs, value) for what, value in secrets.items() if _found(blobs, value)}
    assert not leaks, leaks


def _session_cookie(base: str, token: str) -> str:
    """Exchange a portal link for its session cookie, as a browser would (no redirect followed)."""

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    opener = urllib.request.build_opener(NoRedirect)
    try:
        opener.open(f"{base}/portal/{token}")
    except urllib.error.HTTPError as redirect:
        header = redirect.headers["set-cookie"]
    return header.split(";", 1)[0]


def _captured_token(page) -> str:
    return page.evaluate("window.sessionStorage.getItem('token')")


def test_a_replayed_portal_client_token_without_the_cookie_gets_none_of_the_victims_data(server, browser):
    base, engine = server["base_url"], server["engine"]
    globex = _subscriber(engine, demo.GLOBEX.email)
    victim_data = [globex.name, "1 Globex Plaza", "US 12-3456789", *_invoice_numbers(engine, globex.id)]
    assert len(victim_data) > 3  # Globex has invoices
    token = next(link.token for link in demo.demo_portal_links(engine) if link.name == globex.name)
    context, page = _context(browser, base)
    page.goto(f"{base}/portal/{token}")
    page.get_by_text("1 Globex Plaza", exact=False).first.wait_for()
    victim_cookie = "; ".join(f"{c['name']}={c['value']}" for c in context.cookies())
    stolen = _captured_token(page)
    context.close()  # the victim's tab is gone; its state stays stored under the token

    _, other_token = make_subscriber(engine, name="Olga Other")
    for cookie in (None, _session_cookie(base, other_token), "portal_session=forged"):
        with ReflexSocket(base, token=stolen, cookie=cookie) as sock:
            sock.call(HYDRATE, path=routes.PORTAL)
            text = sock.received_text()
        assert sock.received, "the server answered nothing: the replay did not reach the state"
        card = [] if cookie and "forged" not in cookie else ["ending in 4242"]  # Olga's card is a 4242 too
        leaked = [item for item in [*victim_data, *card] if item in text]
        assert not leaked, (cookie and cookie[:16], leaked)

    # The same replay with the victim's cookie is served: the client and the markers are sound.
    with ReflexSocket(base, token=stolen, cookie=victim_cookie) as sock:
        sock.send(HYDRATE, path=routes.PORTAL)
        assert sock.wait_for("1 Globex Plaza")


def test_a_replayed_console_client_token_without_the_cookie_gets_none_of_the_merchants_data(server, browser):
    base, engine = server["base_url"], server["engine"]
    globex = _subscriber(engine, demo.GLOBEX.email)
    victim_data = ["Acme Fitness", demo.OWNER_EMAIL, globex.email, *_invoice_numbers(engine, globex.id)]
    context, page = _context(browser, base)
    _sign_in(page, base)
    path = routes.console_subscriber_url(globex.id)
    page.goto(f"{base}{path}")
    page.get_by_test_id("profile-name").filter(has_text=globex.name).wait_for()
    console_cookie = "; ".join(f"{c['name']}={c['value']}" for c in context.cookies())
    stolen = _captured_token(page)
    context.close()

    query = {"subscriber_id": str(globex.id)}
    for cookie in (None, "console_session=forged"):
        with ReflexSocket(base, token=stolen, cookie=cookie) as sock:
            sock.call(HYDRATE, path=path, query=query)
            text = sock.received_text()
        assert sock.received
        leaked = [item for item in victim_data if item in text]
        assert not leaked, leaked

    with ReflexSocket(base, token=stolen, cookie=console_cookie) as sock:
        sock.send(HYDRATE, path=path, query=query)
        assert sock.wait_for(globex.email)
