"""`python -m portal_app.billing api-key create`: the secret comes out whole (past the log mask),
alone on the last line, and authenticates; an unknown slug exits 2 with one line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlmodel import Session, select

from portal_app import db
from portal_app.billing import api_keys
from portal_app.billing.demo import seed_demo
from portal_app.models import ApiKey, Merchant, utcnow
from portal_app.settings import get_settings
from tests.databases import migrate

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


def _cli(url: str, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DATABASE_URL": url, "SECRET_KEY": get_settings().secret_key}
    env.pop("REFLEX_REDIS_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "portal_app.billing", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def demo_db(tmp_path):
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    migrate(url)
    engine = db.make_engine(url)
    seed_demo(engine, now=utcnow())
    yield url, engine
    engine.dispose()


def test_api_key_create_prints_the_secret_alone_on_its_last_line_and_it_authenticates(demo_db):
    url, engine = demo_db
    result = _cli(url, "api-key", "create", "--merchant", "acme", "--name", "Zapier sync")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    secret = lines[-1]
    assert secret.startswith("spk_") and len(secret) == 47 and " " not in secret, result.stdout
    assert "[redacted]" not in result.stdout
    assert all(secret not in line for line in lines[:-1]) and secret not in result.stderr  # printed once
    assert "Zapier sync" in result.stdout and "acme" in result.stdout
    with Session(engine) as session:
        acme = session.exec(select(Merchant).where(Merchant.slug == "acme")).one()
        assert api_keys.authenticate(session, secret) == api_keys.ApiKeyIdentity(
            acme.id, session.exec(select(ApiKey.id)).one()
        )
        session.commit()
        row = session.exec(select(ApiKey)).one()
        assert row.name == "Zapier sync" and row.created_by == "cli" and secret not in row.secret_hash


def test_api_key_create_refuses_an_unknown_merchant_with_exit_2_and_one_line(demo_db):
    url, engine = demo_db
    result = _cli(url, "api-key", "create", "--merchant", "nobody")
    assert result.returncode == 2
    assert result.stdout == "" and len(result.stderr.strip().splitlines()) == 1
    assert "nobody" in result.stderr
    with Session(engine) as session:
        assert session.exec(select(ApiKey)).all() == []


def test_api_key_create_refuses_a_name_that_is_too_long(demo_db):
    url, _ = demo_db
    result = _cli(url, "api-key", "create", "--merchant", "acme", "--name", "x" * 81)
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1, result.stderr
