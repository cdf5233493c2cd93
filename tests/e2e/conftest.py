"""End-to-end fixtures: the production build (`reflex run --env prod`, as `make run` serves it)
on its own port and database, seeded with the demo data, behind a real reverse proxy (Debian's
nginx on loopback), driven by Playwright in Debian's Chromium at a desktop and a phone viewport."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

import pytest

from portal_app import db
from tests.databases import fresh_database_url

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
SCREENSHOTS = ARTIFACTS / "screenshots"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
VIEWPORTS = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 375, "height": 812}}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_healthy(url: str, proc: subprocess.Popen, log: Path, timeout: float = 900) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}:\n{log.read_text()[-4000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            pass
        time.sleep(1)
    raise RuntimeError(f"server not healthy after {timeout}s:\n{log.read_text()[-4000:]}")


TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL", "")
TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL", "")
# The billing runner is off in the browser tests unless asked for (E2E_BILLING_TICK_SECONDS=5).
BILLING_TICK_SECONDS = int(os.environ.get("E2E_BILLING_TICK_SECONDS", "0"))
SCALE_OUT_WORKERS = 2  # backend worker processes of the scale-out server (GRANIAN_WORKERS)
PROXY_HOP = "127.0.0.1"  # nginx's address as the app sees it: the one TRUSTED_PROXIES entry


def pytest_collection_modifyitems(config, items):
    """The phone viewport runs on the embedded server only. Layout is the browser's work on one frontend
    build, the same for both servers; what the scale-out server changes (Redis state, PostgreSQL, two
    workers) every desktop run exercises. Running each flow at 4 combinations cost ~7 minutes of CI.
    E2E_ALL_COMBINATIONS=1 runs them all."""
    if os.environ.get("E2E_ALL_COMBINATIONS") == "1":
        return
    kept, dropped = [], []
    for item in items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        (dropped if params.get("server") == "scale-out" and params.get("page") == "phone" else kept).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


@pytest.fixture(scope="session")
def reverse_proxy(tmp_path_factory):
    """Debian's nginx on loopback in front of the server, configured as a deployment would be
    (tests/e2e/nginx.conf): X-Forwarded-For/-Proto, WebSocket upgrades on Reflex's /_event, and
    nginx's default Host rewrite to the upstream address."""
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if not os.path.exists(nginx):
        pytest.fail("the browser tests run behind nginx: `make browser` installs it (apt-get install nginx)")
    proxy = ReverseProxy(nginx, tmp_path_factory.mktemp("nginx"), free_port())
    try:
        yield proxy
    finally:
        proxy.stop()


class ReverseProxy:
    """One nginx master process with its own prefix; `route_to(port)` points it at a backend."""

    def __init__(self, nginx: str, prefix: Path, port: int) -> None:
        self.nginx, self.prefix, self.port = nginx, prefix, port
        self.url = f"http://localhost:{port}"
        self.conf = prefix / "nginx.conf"
        self._write(upstream_port=9)  # nothing listens there until a server is routed to
        self.proc = subprocess.Popen(
            [nginx, "-p", str(prefix), "-c", str(self.conf), "-e", str(prefix / "error.log")],
            stdout=subprocess.DEVNULL,
            stderr=open(prefix / "nginx.out", "w"),  # noqa: SIM115 (lives as long as nginx)
            start_new_session=True,
        )
        deadline = time.monotonic() + 30
        while not (prefix / "nginx.pid").exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"nginx did not start: {(prefix / 'nginx.out').read_text()}")
            time.sleep(0.1)

    def _write(self, upstream_port: int) -> None:
        template = (Path(__file__).parent / "nginx.conf").read_text()
        self.conf.write_text(
            template.replace("@PREFIX@", str(self.prefix))
            .replace("@PORT@", str(self.port))
            .replace("@UPSTREAM@", f"127.0.0.1:{upstream_port}")
        )

    def route_to(self, upstream_port: int) -> None:
        self._write(upstream_port)
        subprocess.run([self.nginx, "-p", str(self.prefix), "-c", str(self.conf), "-s", "reload"], check=True)

    def access_log(self) -> str:
        return (self.prefix / "access.log").read_text()

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()


@pytest.fixture(scope="session", params=["sqlite", "scale-out"])
def server(request, tmp_path_factory, reverse_proxy):
    """The production server on a fresh, migrated, seeded database, behind the nginx reverse proxy
    (base_url is the proxy's; backend_url the server's own port): the embedded default (SQLite,
    disk state, one worker), then the scale-out configuration (PostgreSQL, Redis state manager,
    SCALE_OUT_WORKERS backend workers) when both are reachable (TEST_DATABASE_URL, TEST_REDIS_URL)."""
    kind = request.param
    if kind == "scale-out" and not (TEST_DATABASE_URL and TEST_REDIS_URL):
        pytest.skip("scale-out needs TEST_DATABASE_URL and TEST_REDIS_URL")
    workers = SCALE_OUT_WORKERS if kind == "scale-out" else 1
    with running_server(
        kind, tmp_path_factory.mktemp("e2e"), reverse_proxy, workers=workers, billing_tick_seconds=BILLING_TICK_SECONDS
    ) as running:
        yield running


@contextlib.contextmanager
def running_server(kind: str, work: Path, proxy: ReverseProxy, *, workers: int = 1, billing_tick_seconds: int = 0):
    """Start `reflex run --env prod` (as `make run` serves it) behind `proxy`; yields the fixture's dict.

    kind: "sqlite" (embedded defaults) or "scale-out" (PostgreSQL + Redis). workers: GRANIAN_WORKERS,
    Reflex's backend worker count. billing_tick_seconds: BILLING_TICK_SECONDS (0 = no in-app runner).
    """
    from portal_app.billing import demo

    port = free_port()
    base_url = proxy.url
    proxy.route_to(port)
    with fresh_database_url("sqlite" if kind == "sqlite" else "postgres", work, prefix="portal_e2e_") as database_url:
        env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "PUBLIC_URL": base_url,
            # The browser's pages and socket go through the proxy: Reflex builds this into the frontend.
            "REFLEX_API_URL": base_url,
            "TRUSTED_PROXIES": PROXY_HOP,
            # The whole suite signs up from one address (through nginx); the limit has its own tests.
            "SIGNUP_IP_LIMIT": "100000",
            "CARD_TOKEN_IP_LIMIT": "100000",  # every browser test types cards from nginx's one address
            "GRANIAN_WORKERS": str(workers),
            "BILLING_TICK_SECONDS": str(billing_tick_seconds),
            "REFLEX_TELEMETRY_ENABLED": "false",
            "REFLEX_CHECK_LATEST_VERSION": "false",
            "PATH": f"{ROOT / 'tools/node_modules/.bin'}:{os.environ['PATH']}",
        }
        env.pop("REFLEX_REDIS_URL", None)
        if kind == "scale-out":
            env["REFLEX_REDIS_URL"] = TEST_REDIS_URL
            _forget_rate_limits(TEST_REDIS_URL)
        reflex = str(ROOT / ".venv/bin/reflex")
        subprocess.run([reflex, "db", "migrate"], cwd=ROOT, env=env, check=True, capture_output=True, timeout=300)
        engine = db.make_engine(database_url)
        demo.seed_demo(engine, now=datetime.now(UTC))
        ARTIFACTS.mkdir(exist_ok=True)
        log = ARTIFACTS / f"e2e-server-{kind}.log"
        with open(log, "w") as out:
            proc = subprocess.Popen(
                [reflex, "run", "--env", "prod", "--frontend-port", str(port), "--backend-port", str(port)],
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            wait_healthy(f"http://localhost:{port}/api/health", proc, log)
            wait_healthy(f"{base_url}/api/health", proc, log, timeout=60)
            yield {
                "base_url": base_url,
                "backend_url": f"http://localhost:{port}",
                "backend_port": port,
                "process_group": proc.pid,
                "workers": workers,
                "proxy": proxy,
                "engine": engine,
                "database_url": database_url,
                "kind": kind,
            }
        finally:
            stop_server(proc)
            engine.dispose()


def _forget_rate_limits(redis_url: str) -> None:
    """Rate-limit counters outlive a server in Redis; an earlier run must not throttle this one."""
    import redis

    client = redis.Redis.from_url(redis_url)
    keys = list(client.scan_iter("portal:rl:*"))
    if keys:
        client.delete(*keys)


def stop_server(proc: subprocess.Popen) -> None:
    """Stop the server and everything it started (its own process group)."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
    except ProcessLookupError:
        return
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(params=list(VIEWPORTS))
def page(request, browser):
    """A fresh browser context (no cookies) per test, at each viewport."""
    context = browser.new_context(viewport=VIEWPORTS[request.param])
    page = context.new_page()
    page.viewport_name = request.param
    yield page
    context.close()


def screenshot(page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}-{page.viewport_name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def assert_no_horizontal_scroll(page) -> None:
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, f"page scrolls horizontally by {overflow}px at {page.viewport_name}"


# --- fresh subscribers in a chosen state, written through the billing engine -----------------

_counter = iter(range(1, 10_000))


def make_subscriber(
    engine, *, state: str = "active", plan: str = "Basic Monthly", name: str | None = None, language: str = "en"
):
    """A new Acme subscriber in `state` (active | past_due | incomplete | canceling | canceled), built
    like production builds it: card saved through the gateway, subscription started and charged,
    renewal run by billing, cancellations through the subscription service; `language` its portal
    language. Returns (subscriber_id, portal token)."""
    from datetime import timedelta

    from sqlmodel import Session, select

    from portal_app.billing.demo import MERCHANT_SLUG
    from portal_app.billing.gateways.simulated import SimulatedGateway
    from portal_app.billing.gateways.simulated_tokens import tokenize_card
    from portal_app.billing.payments.card_updates import update_payment_method
    from portal_app.billing.periods import add_interval
    from portal_app.billing.portal_links import issue_portal_link
    from portal_app.billing.runs import run_billing
    from portal_app.billing.subscriptions import cancel_subscription, subscribe
    from portal_app.models import Merchant, Plan, Subscriber, Subscription, utcnow

    gateway = SimulatedGateway()
    now = utcnow()
    n = next(_counter)
    with Session(engine, expire_on_commit=False) as session:
        merchant = session.exec(select(Merchant).where(Merchant.slug == MERCHANT_SLUG)).one()
        plan_row = session.exec(select(Plan).where(Plan.merchant_id == merchant.id, Plan.name == plan)).one()
        subscriber = Subscriber(
            merchant_id=merchant.id,
            name=name or f"Test Person {n}",
            email=f"test{n}-{now.timestamp():.0f}@example.com",
            language=language,
        )
        session.add(subscriber)
        session.commit()
        merchant_id, plan_id, subscriber_id = merchant.id, plan_row.id, subscriber.id

    def card(number: str) -> dict[str, str]:  # tokenized, as the card component hands it over
        typed = {"number": number, "exp_month": "12", "exp_year": str(now.year + 3), "cvc": "123"}
        return {"payment_method": tokenize_card(typed).id}

    if state in ("active", "incomplete", "canceling", "canceled"):
        start = now - timedelta(days=3)
    elif state == "past_due":
        # Due for renewal two hours ago; the card on file now declines every charge.
        start = add_interval(now - timedelta(hours=2), plan_row.interval, plan_row.interval_count, -1)
    else:
        raise ValueError(state)
    update_payment_method(
        engine,
        merchant_id=merchant_id,
        subscriber_id=subscriber_id,
        # incomplete: the card saves, but the first payment is declined
        card_input=card("4000000000000341" if state == "incomplete" else "4242424242424242"),
        gateway=gateway,
        now=start,
    )
    started = subscribe(
        engine, merchant_id=merchant_id, subscriber_id=subscriber_id, plan_id=plan_id, start_at=start, gateway=gateway
    )
    assert started.active == (state != "incomplete")
    if state in ("canceling", "canceled"):
        with Session(engine, expire_on_commit=False) as session:
            sub = session.exec(select(Subscription).where(Subscription.subscriber_id == subscriber_id)).one()
            mode = "at_period_end" if state == "canceling" else "immediately"
            cancel_subscription(
                session, sub.id, merchant_id=merchant_id, actor="subscriber", reason="not_using", now=now, mode=mode
            )
            session.commit()
    if state == "past_due":
        failing = card("4000000000000341")
        update_payment_method(
            engine,
            merchant_id=merchant_id,
            subscriber_id=subscriber_id,
            card_input=failing,
            gateway=gateway,
            now=now - timedelta(hours=3),
        )
        run_billing(engine, now=now, gateway=gateway)
    with Session(engine, expire_on_commit=False) as session:
        token = issue_portal_link(session, session.get(Subscriber, subscriber_id))
        session.commit()
    return subscriber_id, token


def open_portal(page, server, token: str) -> None:
    page.goto(f"{server['base_url']}/portal/{token}")
    page.get_by_test_id("plan-name").wait_for()


# E2E_AXE_JS: another copy of axe-core (the same pinned version), e.g. in a work tree sharing tools/.
AXE_JS = Path(os.environ.get("E2E_AXE_JS") or ROOT / "tools" / "node_modules" / "axe-core" / "axe.min.js")


def assert_accessible(page) -> None:
    """axe-core on the current page: no serious or critical violations."""
    page.add_script_tag(path=str(AXE_JS))
    violations = page.evaluate(
        """async () => {
            const r = await axe.run(document, {resultTypes: ['violations']});
            return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                                           nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))}));
        }"""
    )
    bad = [v for v in violations if v["impact"] in ("serious", "critical")]
    assert not bad, bad


def assert_tap_targets(page, minimum: int = 44) -> None:
    """Every visible button and link is at least `minimum` px tall (phone usability). A radio, switch or
    checkbox inside a <label> is tapped through its label: the label's height counts."""
    small = page.evaluate(
        """(min) => [...document.querySelectorAll('main button, main a, main [role=combobox]')]
            .filter(e => e.offsetParent !== null)
            .map(e => ({e, target: e.matches('[role=radio], [role=switch], [role=checkbox]')
                                   ? (e.closest('label') || e) : e}))
            .map(({e, target}) => ({text: (e.innerText || e.getAttribute('aria-label') || '').slice(0, 40),
                                    h: target.getBoundingClientRect().height}))
            .filter(e => e.h < min)""",
        minimum,
    )
    assert not small, small
