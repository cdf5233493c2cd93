"""Scale-out proven (PostgreSQL + Redis, GRANIAN_WORKERS backend workers behind the proxy): sockets
really land on different worker processes (their PIDs, read from /proc), a console sign-in and a
portal session work on every worker, and a rate limit trips after N hits spread over workers."""

from __future__ import annotations

import contextlib
import re
import time
import uuid

import pytest
from sqlmodel import Session, select

from portal_app import routes
from portal_app.billing import demo
from portal_app.models import EmailMessage, Merchant, Subscriber
from portal_app.pages.console.dashboard import ConsoleDashboardState
from portal_app.pages.portal.overview import PortalState

from .conftest import make_subscriber
from .proxied import console_sign_in, portal_sign_in, request_new_links
from .socket_client import ReflexSocket, event_name
from .workers import connections_by_worker, new_connection_worker

pytestmark = pytest.mark.e2e


@pytest.fixture
def scale_out(server):
    if server["kind"] != "scale-out":
        pytest.skip("the scale-out server only (PostgreSQL + Redis, several workers)")
    assert server["workers"] >= 2
    return server


@contextlib.contextmanager
def sockets_on_two_workers(server, **socket_kw):
    """Two open sockets through the proxy, held by two different worker processes: {pid: socket}.
    Sockets are opened one at a time; each new server-side connection shows which worker took it."""
    held: dict[int, ReflexSocket] = {}
    extra: list[ReflexSocket] = []
    try:
        for _ in range(30):
            before = connections_by_worker(server["process_group"], server["backend_port"])
            sock = ReflexSocket(server["base_url"], **socket_kw).__enter__()
            pid = _worker_of_new_connection(server, before)
            if pid not in held:
                held[pid] = sock
            else:
                extra.append(sock)
            if len(held) == 2:
                break
        assert len(held) == 2, f"30 sockets all landed on worker {list(held)}"
        yield held
    finally:
        for sock in [*held.values(), *extra]:
            sock.__exit__(None, None, None)


def _worker_of_new_connection(server, before) -> int:
    for _ in range(50):
        after = connections_by_worker(server["process_group"], server["backend_port"])
        if (pid := new_connection_worker(before, after)) is not None:
            return pid
        time.sleep(0.1)
    raise AssertionError("no worker holds the new socket")


def test_requests_land_on_several_worker_processes(scale_out):
    with sockets_on_two_workers(scale_out) as held:
        assert len(set(held)) == 2 and scale_out["process_group"] not in held  # workers, not the supervisor


def test_a_console_sign_in_and_a_portal_session_work_on_every_worker(scale_out):
    console_cookie = console_sign_in(scale_out)  # HTTP, through the proxy, on whichever worker
    with sockets_on_two_workers(scale_out, cookie=console_cookie) as held:
        for sock in held.values():
            sock.call(event_name(ConsoleDashboardState, "load"), path=routes.CONSOLE_HOME)
            # The dashboard's counts of the demo merchant: the session was recognised on this worker.
            assert re.search(r'active_count\w*": [1-9]', sock.received_text()), sock.received_text()[:500]

    _, token = make_subscriber(scale_out["engine"], name="Worker Hopper")
    portal_cookie = portal_sign_in(scale_out, token)
    with sockets_on_two_workers(scale_out, cookie=portal_cookie) as held:
        for sock in held.values():
            sock.call(event_name(PortalState, "load"), path=routes.PORTAL)
            assert "Worker Hopper" in sock.received_text()


def test_a_rate_limit_is_shared_by_the_workers(scale_out):
    """ "Send me a new link" allows 10 per client per hour: 11 requests from one visitor, alternating
    between sockets on two workers, send 10 emails; with per-worker counters all 11 would go."""
    emails = _subscribers_with_emails(scale_out["engine"], 4)
    visitor = f"198.18.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250 + 1}"
    with sockets_on_two_workers(scale_out, headers={"X-Forwarded-For": visitor}) as held:
        first, second = held.values()
        for n in range(11):
            request_new_links(first if n % 2 == 0 else second, [emails[n % 4]])
    assert _new_link_emails(scale_out["engine"], emails) == 10


def _subscribers_with_emails(engine, count: int) -> list[str]:
    with Session(engine) as session:
        merchant = session.exec(select(Merchant).where(Merchant.slug == demo.MERCHANT_SLUG)).one()
        emails = [f"shared-limit-{uuid.uuid4().hex[:10]}@example.com" for _ in range(count)]
        session.add_all(Subscriber(merchant_id=merchant.id, name=f"Asker {n}", email=e) for n, e in enumerate(emails))
        session.commit()
    return emails


def _new_link_emails(engine, emails: list[str]) -> int:
    with Session(engine) as session:
        sent = session.exec(select(EmailMessage).where(EmailMessage.kind == "new_link")).all()
    return sum(1 for message in sent if message.to_address in emails)
