"""The in-app billing loop: runs billing on its interval, and is off when the interval is 0."""

from __future__ import annotations

import asyncio

import pytest

from portal_app import background
from portal_app.settings import Settings


def _settings(**values) -> Settings:
    return Settings(secret_key="k" * 40, _env_file=None, **values)


def test_loop_runs_billing_on_its_interval(monkeypatch):
    calls = []
    monkeypatch.setattr(background, "get_settings", lambda: _settings(billing_tick_seconds=1))
    monkeypatch.setattr(background, "_billing_tick", lambda stop: calls.append(1))
    monkeypatch.setattr(background, "EMAIL_POLL_SECONDS", 0.05)

    async def run_for(seconds):
        task = asyncio.create_task(background.billing_loop())
        await asyncio.sleep(seconds)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(run_for(2.6))
    assert 1 <= len(calls) <= 3


def test_loop_survives_a_failing_tick(monkeypatch):
    calls = []

    def failing(stop):
        calls.append(1)
        raise RuntimeError("database down")

    monkeypatch.setattr(background, "get_settings", lambda: _settings(billing_tick_seconds=1))
    monkeypatch.setattr(background, "_billing_tick", failing)
    monkeypatch.setattr(background, "EMAIL_POLL_SECONDS", 0.05)

    async def run_for(seconds):
        task = asyncio.create_task(background.billing_loop())
        await asyncio.sleep(seconds)
        task.cancel()

    asyncio.run(run_for(2.6))
    assert len(calls) >= 2  # it kept going after the first failure


def test_loop_is_off_without_interval_or_smtp(monkeypatch):
    monkeypatch.setattr(background, "get_settings", lambda: _settings(billing_tick_seconds=0))
    asyncio.run(asyncio.wait_for(background.billing_loop(), timeout=2))  # returns at once
