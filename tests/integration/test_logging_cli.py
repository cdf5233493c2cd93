"""The real billing CLI on a seeded, migrated database: its log lines carry time, level and logger
(LOG_FORMAT=json: one JSON object per stderr line) and its summary is printed; and the billing run of
the server process (portal_app/background.py) appears at INFO once rxconfig configured logging."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from portal_app import db
from portal_app.billing.demo import seed_demo
from portal_app.models import utcnow
from tests.databases import migrate

ROOT = Path(__file__).resolve().parents[2]
LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (DEBUG|INFO|WARNING|ERROR|CRITICAL) +\S+ \[\S+\] \S")


@pytest.fixture
def seeded(tmp_path):
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    migrate(url)
    engine = db.make_engine(url)
    seed_demo(engine, now=utcnow())
    engine.dispose()
    return {"DATABASE_URL": url, "SIMULATED_GATEWAY_PATH": str(tmp_path / "charges.db")}


def run(args: list[str], tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    full = {**os.environ, "PYTHONPATH": str(ROOT), "BILLING_TICK_SECONDS": "0", **env}
    full.pop("PORTAL_STARTUP_WARNED", None)
    return subprocess.run([sys.executable, *args], cwd=tmp_path, env=full, capture_output=True, text=True, timeout=300)


# Far on: renewals, retries and declines of the demo happen.
LATER = "2099-01-01T00:00:00"
# A production demo on SQLite: the start-up warning is a log line every run writes, at the default level.
DEMO = {"ENVIRONMENT": "production", "DEMO_MODE": "true", "PUBLIC_URL": "https://demo.example.com"}


def test_the_billing_cli_logs_readable_lines_and_prints_its_summary(seeded, tmp_path):
    result = run(["-m", "portal_app.billing", "run", "--now", LATER], tmp_path, **DEMO, **seeded)
    assert result.returncode == 0, result.stderr
    assert re.search(r"^Billing run at 2099-01-01T00:00:00\+00:00: renewed \d+, .*charges \d+", result.stdout, re.M)
    log_lines = [line for line in result.stderr.splitlines() if LOG_LINE.match(line)]
    assert [line for line in log_lines if " WARNING portal_app.settings [-] DATABASE_URL is SQLite" in line]
    # Everything else on stderr is tqdm's progress bars (a terminal's "renewals: 100%|...").
    others = [line for line in result.stderr.splitlines() if not LOG_LINE.match(line)]
    assert all(re.search(r"\d+%\|", line) or not line.strip() for line in others), others


def test_json_mode_writes_one_json_object_per_stderr_line(seeded, tmp_path):
    result = run(["-m", "portal_app.billing", "run", "--now", LATER], tmp_path, LOG_FORMAT="json", **DEMO, **seeded)
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in result.stderr.splitlines() if line.strip()]
    for record in records:
        assert {"time", "level", "logger", "message", "request_id"} <= set(record)
    warning = [r for r in records if r["logger"] == "portal_app.settings"]
    assert len(warning) == 1 and warning[0]["level"] == "WARNING" and "SQLite" in warning[0]["message"]
    assert "Billing run at 2099-01-01" in result.stdout


def test_the_servers_billing_run_is_logged_at_info(seeded, tmp_path):
    """What background.py logs after a billing run appears in the server process's output."""
    script = (
        "import threading\n"
        "import rxconfig\n"
        "from datetime import datetime, UTC\n"
        "from portal_app import background\n"
        f"background.utcnow = lambda: datetime({LATER[:4]}, 1, 1, tzinfo=UTC)\n"
        "background._billing_tick(threading.Event())\n"
    )
    result = run(["-c", script], tmp_path, **seeded)
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stderr.splitlines() if "billing run:" in line]
    assert len(lines) == 1, result.stderr
    assert LOG_LINE.match(lines[0]) and " INFO " in lines[0] and "portal_app.background" in lines[0]
