"""Benchmark: time until the portal overview shows its data, over N fresh visits of a portal
link, against the production build on localhost (what `make run` serves).

Each visit is a new browser context (no cache, no cookies): GET /portal/<token> -> session cookie
-> /portal -> websocket -> on_load -> plan name visible. Prints median and p95; target p95 <= 1 s.
Never asserts.

    .venv/bin/python bench/portal_load.py [--loads 20] [--url http://localhost:3000]
(without --url it starts its own server on a temporary SQLite database with the demo data)
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("REFLEX_TELEMETRY_ENABLED", "false")
os.environ.setdefault("REFLEX_CHECK_LATEST_VERSION", "false")

from portal_app import db  # noqa: E402
from portal_app.billing import demo  # noqa: E402
from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS, free_port, stop_server, wait_healthy  # noqa: E402


def _start_server(work: Path):
    port = free_port()
    database_url = f"sqlite:///{work / 'bench.db'}"
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "PUBLIC_URL": f"http://localhost:{port}",
        "BILLING_TICK_SECONDS": "0",
        "PATH": f"{ROOT / 'tools/node_modules/.bin'}:{os.environ['PATH']}",
    }
    env.pop("REFLEX_REDIS_URL", None)
    reflex = str(ROOT / ".venv/bin/reflex")
    subprocess.run([reflex, "db", "migrate"], cwd=ROOT, env=env, check=True, capture_output=True)
    engine = db.make_engine(database_url)
    demo.seed_demo(engine, now=datetime.now(UTC))
    log = work / "server.log"
    proc = subprocess.Popen(
        [reflex, "run", "--env", "prod", "--frontend-port", str(port), "--backend-port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    wait_healthy(f"http://localhost:{port}/api/health", proc, log)
    return proc, engine, f"http://localhost:{port}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--loads", type=int, default=20)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        proc, engine, base = _start_server(Path(tmp))
        try:
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                timings = []
                for i in range(args.loads + 1):
                    token = demo.demo_portal_links(engine)[3].token  # Globex: the longest invoice list
                    context = browser.new_context(viewport={"width": 1280, "height": 800})
                    page = context.new_page()
                    started = time.perf_counter()
                    page.goto(f"{base}/portal/{token}")
                    page.get_by_test_id("plan-name").wait_for()
                    page.get_by_test_id("invoice-row").first.wait_for()
                    elapsed = time.perf_counter() - started
                    context.close()
                    if i:  # the first visit warms the server's caches; report the rest
                        timings.append(elapsed)
                browser.close()
        finally:
            stop_server(proc)
    timings.sort()
    p95 = timings[max(0, int(round(0.95 * len(timings))) - 1)]
    print(
        f"portal overview, {len(timings)} fresh visits: median {statistics.median(timings) * 1000:.0f} ms, "
        f"p95 {p95 * 1000:.0f} ms, max {timings[-1] * 1000:.0f} ms (target p95 <= 1000 ms; ratio "
        f"{p95:.2f}x of target)"
    )


if __name__ == "__main__":
    main()
