"""/api/health (readiness) reports the database and, when configured, Redis, and answers 503 when
either is down; /api/health/live (liveness) answers while the worker does, whatever the database."""

from __future__ import annotations

import os

import pytest
import sqlalchemy as sa
from starlette.testclient import TestClient

from portal_app import db
from portal_app.api import build_api
from portal_app.settings import get_settings

TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL", "")
# Port 1 on loopback: nothing listens, the connection is refused at once.
DEAD_REDIS_URL = "redis://127.0.0.1:1/0"


@pytest.fixture
def redis_url(monkeypatch):
    """Sets REFLEX_REDIS_URL for the test (settings are read once per process: the cache is cleared)."""

    def configure(url: str) -> None:
        monkeypatch.setenv("REFLEX_REDIS_URL", url)
        get_settings.cache_clear()

    monkeypatch.delenv("REFLEX_REDIS_URL", raising=False)
    get_settings.cache_clear()
    yield configure
    get_settings.cache_clear()


@pytest.fixture
def client(engine, monkeypatch):
    monkeypatch.setattr(db, "get_engine", lambda: engine)
    return TestClient(build_api())


@pytest.fixture
def dead_database(monkeypatch, tmp_path):
    """An engine whose database cannot be opened (its directory does not exist)."""
    dead = sa.create_engine(f"sqlite:///{tmp_path / 'missing-dir' / 'portal.db'}")
    monkeypatch.setattr(db, "get_engine", lambda: dead)
    yield
    dead.dispose()


def test_ready_without_redis_reports_the_database_only(client, redis_url):
    resp = client.get("/api/health")
    assert resp.status_code == 200
    assert resp.json() == {"status": "ok", "db": True}


def test_database_down_is_503(client, redis_url, dead_database):
    resp = client.get("/api/health")
    assert resp.status_code == 503
    assert resp.json() == {"status": "degraded", "db": False}


def test_configured_redis_down_is_503(client, redis_url):
    redis_url(DEAD_REDIS_URL)
    resp = client.get("/api/health")
    assert resp.status_code == 503
    assert resp.json() == {"status": "degraded", "db": True, "redis": False}


@pytest.mark.skipif(not TEST_REDIS_URL, reason="TEST_REDIS_URL not set (no Redis on 127.0.0.1:6379)")
def test_configured_redis_up_is_ready(client, redis_url):
    redis_url(TEST_REDIS_URL)
    resp = client.get("/api/health")
    assert resp.status_code == 200
    assert resp.json() == {"status": "ok", "db": True, "redis": True}


def test_liveness_answers_while_the_database_is_down(client, redis_url, dead_database):
    redis_url(DEAD_REDIS_URL)
    assert client.get("/api/health").status_code == 503
    resp = client.get("/api/health/live")
    assert resp.status_code == 200
    assert resp.json() == {"status": "ok"}
