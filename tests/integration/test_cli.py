"""`python -m portal_app.billing ...`: what `make run` prints, and billing runs from the shell."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from portal_app import db
from portal_app.billing import cli
from portal_app.billing.demo import seed_demo
from portal_app.billing.portal_links import resolve_portal_token
from portal_app.models import utcnow
from portal_app.settings import get_settings
from tests.databases import migrate

ROOT = Path(__file__).resolve().parents[2]


def test_links_prints_console_login_and_one_portal_line_per_demo_subscriber(migrated, capsys):
    engine = migrated
    seed_demo(engine, now=utcnow())
    assert cli.main(["links"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert re.fullmatch(r"Console: http://\S+/console  login: owner@acme\.example / demo-password-123", lines[0])
    portal_lines = [
        re.fullmatch(r"Portal: (http://\S+/portal/(\S+))  \((.+), (.+), (\w+)\)", line) for line in lines[1:]
    ]
    assert len(portal_lines) == 6 and all(portal_lines)
    assert {m.group(3) for m in portal_lines} >= {"Zoë Ñúñez", "Marcus Chen", "Priya Patel", "Globex Corporation"}
    assert {m.group(5) for m in portal_lines} >= {"active", "past_due"}
    with db.session_scope(engine) as session:
        assert all(resolve_portal_token(session, m.group(2)) is not None for m in portal_lines)


def _printed_urls(capsys) -> list[str]:
    return re.findall(r"^Portal: (http://\S+)  ", capsys.readouterr().out, re.M)


def test_two_starts_print_the_same_links_and_new_ones_only_when_asked(migrated, capsys):
    """`make run` twice: the same URLs (emailed links keep working); `links --new`
    (`make run NEW_DEMO_LINKS=1`) revokes them and prints new ones, printed again at the next start."""
    seed_demo(migrated, now=utcnow())
    assert cli.main(["links"]) == 0
    first = _printed_urls(capsys)
    assert cli.main(["links"]) == 0
    assert _printed_urls(capsys) == first and len(first) == 6
    assert cli.main(["links", "--new"]) == 0
    renewed = _printed_urls(capsys)
    assert len(renewed) == 6 and not set(renewed) & set(first)
    with db.session_scope(migrated) as session:
        assert not any(resolve_portal_token(session, url.rsplit("/", 1)[1]) for url in first)
    assert cli.main(["links"]) == 0
    assert _printed_urls(capsys) == renewed


def test_make_run_passes_new_demo_links_as_links_new():
    """The documented switch: `make run NEW_DEMO_LINKS=1` runs `links --new`, plain `make run` `links`."""

    def links_command(*overrides: str) -> str:
        out = subprocess.run(
            ["make", "-n", "run", *overrides, "PY=echo-python"], cwd=ROOT, capture_output=True, text=True, timeout=60
        ).stdout
        return next(line for line in out.splitlines() if "portal_app.billing links" in line).strip()

    assert links_command().endswith("portal_app.billing links")
    assert links_command("NEW_DEMO_LINKS=1").endswith("portal_app.billing links --new")
    assert links_command("NEW_DEMO_LINKS=0").endswith("portal_app.billing links")


def test_make_runs_links_command_prints_working_links_past_the_log_mask(tmp_path):
    """The real entry point masks its output (portal tokens included, portal_app/logredact.py); the
    links it exists to print must still come out whole, or `make run` shows "[redacted]"."""
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    migrate(url)
    engine = db.make_engine(url)
    seed_demo(engine, now=utcnow())
    env = {**os.environ, "DATABASE_URL": url, "SECRET_KEY": get_settings().secret_key}
    env.pop("REFLEX_REDIS_URL", None)
    result = subprocess.run(
        [sys.executable, "-m", "portal_app.billing", "links"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    tokens = re.findall(r"^Portal: http://\S+/portal/(\S+)  ", result.stdout, re.M)
    assert len(tokens) == 6 and "[redacted]" not in result.stdout, result.stdout
    with db.session_scope(engine) as session:
        assert all(resolve_portal_token(session, token) is not None for token in tokens)
    engine.dispose()


@pytest.fixture
def migrated(tmp_path, monkeypatch):
    """A database made as deployments make it: by the migrations only."""
    url = f"sqlite:///{tmp_path / 'migrated.db'}"
    migrate(url)
    engine = db.make_engine(url)
    monkeypatch.setattr(db, "get_engine", lambda: engine)
    yield engine
    engine.dispose()


def test_every_command_refuses_a_database_that_is_not_migrated(tmp_path, monkeypatch, capsys):
    engine = db.make_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    monkeypatch.setattr(db, "get_engine", lambda: engine)
    for command in (["seed"], ["run"], ["links"]):
        assert cli.main(command) == 2
        assert "run `reflex db migrate` first" in capsys.readouterr().err
    assert sa.inspect(engine).get_table_names() == []  # only migrations create tables
    engine.dispose()


def test_seed_is_idempotent_and_run_reports(migrated, capsys):
    assert cli.main(["seed"]) == 0
    assert cli.main(["seed"]) == 0
    out = capsys.readouterr().out
    assert "Demo data created" in out and "already present" in out
    assert cli.main(["run", "--now", utcnow().isoformat()]) == 0
    assert "Billing run at" in capsys.readouterr().out
