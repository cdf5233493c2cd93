"""`python -m portal_app.billing ...`: what `make run` prints, and billing runs from the shell."""

from __future__ import annotations

import re

from portal_app import db
from portal_app.billing import cli
from portal_app.billing.demo import seed_demo
from portal_app.billing.portal_links import resolve_portal_token
from portal_app.models import utcnow


def test_links_prints_console_login_and_one_portal_line_per_demo_subscriber(engine, monkeypatch, capsys):
    monkeypatch.setattr(db, "get_engine", lambda: engine)
    seed_demo(engine, now=utcnow())
    assert cli.main(["links"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert re.fullmatch(r"Console: http://\S+/console  login: owner@acme\.example / demo-password-123", lines[0])
    portal_lines = [
        re.fullmatch(r"Portal: (http://\S+/portal/(\S+))  \((.+), (.+), (\w+)\)", line) for line in lines[1:]
    ]
    assert len(portal_lines) == 5 and all(portal_lines)
    assert {m.group(3) for m in portal_lines} >= {"Zoë Ñúñez", "Marcus Chen", "Priya Patel", "Globex Corporation"}
    assert {m.group(5) for m in portal_lines} >= {"active", "past_due"}
    with db.session_scope(engine) as session:
        assert all(resolve_portal_token(session, m.group(2)) is not None for m in portal_lines)


def test_seed_is_idempotent_and_run_reports(engine, monkeypatch, capsys):
    monkeypatch.setattr(db, "get_engine", lambda: engine)
    assert cli.main(["seed"]) == 0
    assert cli.main(["seed"]) == 0
    out = capsys.readouterr().out
    assert "Demo data created" in out and "already present" in out
    assert cli.main(["run", "--now", utcnow().isoformat()]) == 0
    assert "Billing run at" in capsys.readouterr().out
