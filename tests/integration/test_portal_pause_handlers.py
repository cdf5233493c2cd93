"""The portal's pause handlers are remote calls: they need the portal session, refuse malformed or
out-of-range dates (nothing changes), and pause / take back only the caller's own subscription."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
from reflex.istate.data import RouterData
from sqlmodel import Session, select

from portal_app.billing.facades import portal_pause
from portal_app.models import Plan, Subscription, utcnow
from portal_app.pages.portal.pause import PortalPauseState
from portal_app.portal_app import app  # noqa: F401  (registers every page and state)
from tests.reflex_states import run_handler, signed_in_portal_state


@pytest.fixture
def portal(engine, monkeypatch):
    state_gen = signed_in_portal_state(engine, monkeypatch, PortalPauseState)
    state = next(state_gen)
    import portal_app.billing.gateways as gateways

    monkeypatch.setattr(portal_pause, "get_gateway", gateways.get_gateway)
    with Session(engine) as session:
        session.execute(sa.update(Plan).values(pause_max_days=30))
        now = utcnow()  # the handlers run on the real clock: a period that ends in ten days
        session.execute(
            sa.update(Subscription).values(
                current_period_start=now - timedelta(days=20), current_period_end=now + timedelta(days=10)
            )
        )
        session.commit()
    run_handler(PortalPauseState.load, state)
    yield state
    with pytest.raises(StopIteration):
        next(state_gen)


def _sub(engine) -> Subscription:
    with Session(engine) as session:
        return session.exec(select(Subscription)).one()


@pytest.mark.parametrize(
    "form", [None, "2026-03-10", {}, {"resume_on": 20260310}, {"resume_on": "10/03/2026"}, {"resume_on": "2026-02-30"}]
)
def test_malformed_dates_are_refused_and_change_nothing(engine, portal, form):
    assert portal.lifecycle["can_pause"] == "1"  # a well-formed date in range would pause
    run_handler(PortalPauseState.confirm_pause, portal, form)
    assert portal.error != ""
    assert _sub(engine).resume_at is None


def test_a_date_outside_the_plans_range_is_refused(engine, portal):
    end = _sub(engine).current_period_end
    for day in (end, end + timedelta(days=31)):
        run_handler(PortalPauseState.confirm_pause, portal, {"resume_on": day.date().isoformat()})
        assert portal.error != "" and _sub(engine).resume_at is None


def test_pause_then_take_it_back(engine, portal):
    assert portal.lifecycle["can_pause"] == "1"
    end = _sub(engine).current_period_end
    run_handler(PortalPauseState.confirm_pause, portal, {"resume_on": (end + timedelta(days=10)).date().isoformat()})
    assert portal.error == "" and _sub(engine).resume_at is not None
    assert portal.lifecycle["action"] == "undo" and portal.lifecycle["status_line"].startswith("Pauses on")
    run_handler(PortalPauseState.resume_now, portal)
    run_handler(PortalPauseState.resume_now, portal)  # a double click: nothing more
    assert _sub(engine).resume_at is None and portal.lifecycle["action"] == ""


def test_the_handlers_need_a_portal_session(engine, portal):
    portal.router = RouterData.from_router_data({"headers": {"cookie": ""}, "pathname": "/portal", "query": {}})
    end = _sub(engine).current_period_end
    run_handler(PortalPauseState.confirm_pause, portal, {"resume_on": (end + timedelta(days=10)).date().isoformat()})
    run_handler(PortalPauseState.set_dialog_open, portal, True)
    assert _sub(engine).resume_at is None and not portal.dialog_open
