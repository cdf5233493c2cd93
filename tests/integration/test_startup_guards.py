"""Start-up refuses a bad configuration with one line that says what to set, exit status 2, no
traceback and no secret in it; as the server starts (`import rxconfig`, what the Reflex CLI and every
backend worker do) and as the billing CLI starts."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SECRET_KEY = "Zq8sWmXbT3vLp0RkYd6NfHc2JuGa9EoV4iQw7Kt1"
STRIPE_SECRET = "sk_live_51PqRsTuVwXyZaBcDeFgHiJkLmNoP"
STRIPE_PUBLISHABLE = "pk_live_51ZyXwVuTsRqPoNmLkJiHgFeDcBa"
WEBHOOK_SECRET = "whsec_Mn0pQr1sTu2vWx3yZa4bCd5e"
SECRETS = (SECRET_KEY, STRIPE_SECRET, STRIPE_PUBLISHABLE, WEBHOOK_SECRET)
SETTINGS_VARS = (
    "ENVIRONMENT", "DATABASE_URL", "SECRET_KEY", "PUBLIC_URL", "GATEWAY", "STRIPE_SECRET_KEY",
    "STRIPE_PUBLISHABLE_KEY", "STRIPE_WEBHOOK_SECRET", "DEMO_MODE", "LOG_LEVEL", "LOG_FORMAT",
    "DUNNING_SCHEDULE_DAYS", "PORTAL_STARTUP_WARNED",
)  # fmt: skip
LIVE_STRIPE = {
    "GATEWAY": "stripe",
    "ENVIRONMENT": "production",
    "PUBLIC_URL": "https://billing.example.com",
    "STRIPE_SECRET_KEY": STRIPE_SECRET,
    "STRIPE_PUBLISHABLE_KEY": STRIPE_PUBLISHABLE,
    "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
}


def start(args: list[str], tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    """Run `python <args>` in an empty directory (no .env) with only these settings."""
    clean = {k: v for k, v in os.environ.items() if k not in SETTINGS_VARS}
    clean.update(
        {
            "PYTHONPATH": str(ROOT),
            "SECRET_KEY": SECRET_KEY,
            "DATABASE_URL": f"sqlite:///{tmp_path / 'portal.db'}",
            "BILLING_TICK_SECONDS": "0",
            **env,
        }
    )
    return subprocess.run([sys.executable, *args], cwd=tmp_path, env=clean, capture_output=True, text=True, timeout=120)


SERVER = ["-c", "import rxconfig"]
CLI = ["-m", "portal_app.billing", "run"]


def assert_refused(result: subprocess.CompletedProcess, setting: str) -> None:
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2, result.stderr
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Configuration error: ") and setting in lines[0], lines[0]
    assert "Traceback" not in result.stderr
    output = result.stdout + result.stderr
    for secret in SECRETS:  # nor any 8-character piece of one, past its public prefix
        tail = secret.split("_", 2)[-1] if secret.startswith(("sk_", "pk_")) else secret.removeprefix("whsec_")
        pieces = [tail[i : i + 8] for i in range(len(tail) - 7)]
        assert not [piece for piece in pieces if piece in output], (secret, output)


REFUSALS = [
    # Today: pydantic's ValidationError, echoing part of SECRET_KEY and the end of the live key.
    ({"STRIPE_SECRET_KEY": STRIPE_SECRET}, "GATEWAY"),
    # Today: starts and serves, and fails only when a card is charged.
    ({**LIVE_STRIPE, "PUBLIC_URL": "http://billing.example.com"}, "PUBLIC_URL"),
    ({**LIVE_STRIPE, "ENVIRONMENT": "development", "PUBLIC_URL": "http://localhost:3000"}, "ENVIRONMENT=production"),
    ({**LIVE_STRIPE, "STRIPE_PUBLISHABLE_KEY": "pk_test_51ZyXwVuTsRqPoNmLkJiHgFeDcBa"}, "STRIPE_PUBLISHABLE_KEY"),
    ({**LIVE_STRIPE, "STRIPE_WEBHOOK_SECRET": ""}, "STRIPE_WEBHOOK_SECRET"),
    ({**LIVE_STRIPE, "STRIPE_SECRET_KEY": STRIPE_PUBLISHABLE}, "STRIPE_SECRET_KEY"),
    ({"ENVIRONMENT": "production", "PUBLIC_URL": "https://demo.example.com"}, "DEMO_MODE"),
    ({"ENVIRONMENT": "production", "PUBLIC_URL": "http://demo.example.com", "DEMO_MODE": "true"}, "PUBLIC_URL"),
    ({"ENVIRONMENT": "production", "SECRET_KEY": "changeme", "DEMO_MODE": "true"}, "SECRET_KEY"),
    ({"SECRET_KEY": SECRET_KEY[:20]}, "SECRET_KEY"),
    ({"ENVIRONMENT": "staging"}, "ENVIRONMENT"),
    ({"LOG_LEVEL": "chatty"}, "LOG_LEVEL"),
    ({"LOG_FORMAT": "xml"}, "LOG_FORMAT"),
    ({"DEMO_MODE": "maybe"}, "DEMO_MODE"),
    ({"DUNNING_SCHEDULE_DAYS": "7,1"}, "DUNNING_SCHEDULE_DAYS"),
    ({"DATABASE_URL": f"nonsense{SECRET_KEY}"}, "DATABASE_URL"),
]


@pytest.mark.parametrize(("env", "setting"), REFUSALS, ids=[f"{i}-{s}" for i, (_, s) in enumerate(REFUSALS)])
def test_a_bad_setting_stops_the_server_with_one_clean_line(env, setting, tmp_path):
    assert_refused(start(SERVER, tmp_path, **env), setting)


@pytest.mark.parametrize(
    ("env", "setting"),
    REFUSALS[:3] + REFUSALS[6:7],
    ids=["live-key-simulated", "live-http", "live-development", "prod-simulated"],
)
def test_a_bad_setting_stops_the_billing_cli_with_one_clean_line(env, setting, tmp_path):
    assert_refused(start(CLI, tmp_path, **env), setting)


def test_keys_pasted_with_newlines_are_trimmed_and_start(tmp_path):
    env = {key: f" {value}\n" for key, value in LIVE_STRIPE.items()}
    result = start(["-c", "import rxconfig; s = rxconfig.settings; print(repr(s.stripe_secret_key))"], tmp_path, **env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == repr(STRIPE_SECRET)


def test_production_demo_starts_and_warns_once_about_sqlite_for_the_whole_process_tree(tmp_path):
    """The server process warns; the workers it starts (which import rxconfig again) do not."""
    worker = "import subprocess, sys; subprocess.run([sys.executable, '-c', 'import rxconfig'], check=True)"
    script = f"import rxconfig; {worker}; {worker}"
    env = {"ENVIRONMENT": "production", "DEMO_MODE": "true", "PUBLIC_URL": "https://demo.example.com"}
    result = start(["-c", script], tmp_path, **env)
    assert result.returncode == 0, result.stderr
    warnings = [line for line in result.stderr.splitlines() if "SQLite" in line]
    assert len(warnings) == 1, result.stderr
    assert " WARNING " in warnings[0] and "DATABASE_URL" in warnings[0]


def test_no_sqlite_warning_outside_production(tmp_path):
    result = start(SERVER, tmp_path)
    assert result.returncode == 0 and "SQLite" not in result.stderr, result.stderr
