"""End-to-end fixtures: the production build (`reflex run --env prod`, as `make run` serves it)
on its own port and database, seeded with the demo data, driven by Playwright in Debian's
Chromium at a desktop and a phone viewport."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import urllib.request
from datetime import datetime, timezone
from pathlib import Path

import pytest

from portal_app import db

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


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_healthy(url: str, proc: subprocess.Popen, log: Path, timeout: float = 900) -> None:
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


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    """Migrate a fresh database with the committed alembic revisions, seed it, serve it."""
    from portal_app.billing import demo

    work = tmp_path_factory.mktemp("e2e")
    port = _free_port()
    base_url = f"http://localhost:{port}"
    database_url = f"sqlite:///{work / 'e2e.db'}"
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "PUBLIC_URL": base_url,
        "BILLING_TICK_SECONDS": "0",
        "REFLEX_TELEMETRY_ENABLED": "false",
        "REFLEX_CHECK_LATEST_VERSION": "false",
        "PATH": f"{ROOT / 'tools/node_modules/.bin'}:{os.environ['PATH']}",
    }
    env.pop("REFLEX_REDIS_URL", None)
    reflex = str(ROOT / ".venv/bin/reflex")
    subprocess.run([reflex, "db", "migrate"], cwd=ROOT, env=env, check=True, capture_output=True, timeout=300)
    engine = db.make_engine(database_url)
    demo.seed_demo(engine, now=datetime.now(timezone.utc))
    ARTIFACTS.mkdir(exist_ok=True)
    log = ARTIFACTS / "e2e-server.log"
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [reflex, "run", "--env", "prod", "--frontend-port", str(port), "--backend-port", str(_free_port())],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        _wait_healthy(f"{base_url}/api/health", proc, log)
        yield {"base_url": base_url, "engine": engine, "database_url": database_url}
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        engine.dispose()


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
