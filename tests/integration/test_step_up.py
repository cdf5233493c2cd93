"""Step-up verification (billing/step_up.py through facades/portal_step_up.py) on SQLite and
PostgreSQL: with the merchant's switch on, the protected portal facades refuse until the session
entered the emailed code, allow changes for 10 minutes after, and the code dies after 5 wrong tries,
after 10 minutes and when a new one is sent; sending is rate-limited; a raw handler call cannot
skip the check."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from portal_app import db
from portal_app.billing import portal_links, sessions, step_up
from portal_app.billing.facades import portal as portal_facade
from portal_app.billing.facades import portal_plan_change, portal_step_up
from portal_app.billing.plan_switches import set_switch_targets
from portal_app.billing.plans import create_plan
from portal_app.billing.step_up import StepUpRefused, StepUpRequired
from portal_app.models import EmailMessage, Merchant, PortalSession, StepUpCode, Subscriber, Subscription, utcnow
from portal_app.ratelimit import RateLimiter
from tests.builders import audit_kinds, card, emails_of, rows, subscribed_world, subscription_of
from tests.reflex_states import run_handler, signed_in_portal_state

pytestmark = pytest.mark.integration


@pytest.fixture(autouse=True)
def fresh_limiters(monkeypatch):
    monkeypatch.setattr(step_up, "send_burst_limiter", RateLimiter("step-up-burst-test", limit=1, window_seconds=30))
    monkeypatch.setattr(step_up, "send_hourly_limiter", RateLimiter("step-up-hour-test", limit=5, window_seconds=3600))


@pytest.fixture
def wired(any_engine, monkeypatch):
    monkeypatch.setattr(db, "get_engine", lambda: any_engine)
    monkeypatch.setattr(portal_facade, "get_engine", lambda: any_engine)
    monkeypatch.setattr(portal_plan_change, "get_engine", lambda: any_engine)
    return any_engine


def _world(engine, gateway, *, required=True):
    now = utcnow()
    world, _ = subscribed_world(engine, gateway, start_at=now - timedelta(days=3))
    with db.session_scope() as session:
        session.execute(sa.update(Merchant).where(Merchant.id == world.merchant_id).values(step_up_required=required))
        subscriber = session.get(Subscriber, world.subscriber_id)
        link = portal_links.resolve_portal_token(session, portal_links.issue_portal_link(session, subscriber))
        cookie = "portal_session=" + sessions.open_portal_session(session, link)
    session_id = sessions.portal_session_id(cookie)
    assert session_id is not None
    ids = {"merchant_id": world.merchant_id, "subscriber_id": world.subscriber_id, "portal_session_id": session_id}
    return world, ids, cookie


def _last_code(world) -> str:
    (message,) = emails_of(world, "step_up_code")[-1:]
    return re.search(r"\b(\d{6})\b", message.body_text).group(1)


def _cancel(ids, **kw):
    return portal_facade.cancel(**ids, reason_code="", reason_text="", **kw)


def test_protected_facades_refuse_without_the_code_and_allow_after(wired, gateway):
    world, ids, _ = _world(wired, gateway)
    with pytest.raises(StepUpRequired):
        _cancel(ids)
    with pytest.raises(StepUpRequired):
        portal_facade.save_card(**ids, form=card())
    with pytest.raises(StepUpRequired):  # no session id at all: refused, never waved through
        _cancel({k: v for k, v in ids.items() if k != "portal_session_id"})
    assert not subscription_of(world).cancel_at_period_end

    hint = portal_step_up.send_code(**ids)
    assert hint == "a***@example.com"
    (message,) = emails_of(world, "step_up_code")
    code = _last_code(world)
    assert code not in message.subject
    (row,) = rows(wired, StepUpCode, StepUpCode.subscriber_id == world.subscriber_id)
    assert code not in row.code_hash and len(row.code_hash) == 64
    assert all(code not in str(e) for e in audit_kinds(world))

    until = portal_step_up.verify_code(**ids, code=code)
    assert timedelta(minutes=9) < until - utcnow() <= timedelta(minutes=10)
    portal_facade.save_card(**ids, form=card())
    assert _cancel(ids).subscription.cancel_at_period_end
    assert {"step_up_code_sent", "step_up_verified"} <= set(audit_kinds(world))


def test_the_console_outbox_never_shows_a_code(wired, gateway):
    from portal_app.billing.facades.console import outbox as outbox_facade

    world, ids, _ = _world(wired, gateway)
    portal_step_up.send_code(**ids)
    code = _last_code(world)
    shown = outbox_facade.list_outbox(merchant_id=world.merchant_id)[0]
    (message,) = [m for m in shown if m.kind == "step_up_code"]
    assert code not in message.body_text and code not in message.subject
    assert outbox_facade.HIDDEN_CODE in message.body_text


def test_a_plan_change_and_its_undo_ask_for_the_code_first(wired, gateway, monkeypatch):
    world, ids, _ = _world(wired, gateway)
    monkeypatch.setattr(portal_plan_change, "get_gateway", lambda: gateway)
    with db.session_scope() as session:
        cheaper = create_plan(
            session, merchant_id=world.merchant_id, name="Lite", amount_minor=900, currency="USD", interval="month"
        )
        set_switch_targets(session, world.plan_id, [cheaper.id], merchant_id=world.merchant_id, actor="t", now=utcnow())
        cheaper_id = cheaper.id
    with pytest.raises(StepUpRequired):
        portal_plan_change.confirm(**ids, plan_id=cheaper_id)
    with pytest.raises(StepUpRequired):  # without a session id: refused, never waved through
        portal_plan_change.confirm(**{k: v for k, v in ids.items() if k != "portal_session_id"}, plan_id=cheaper_id)
    assert subscription_of(world).pending_plan_id is None
    portal_step_up.send_code(**ids)
    portal_step_up.verify_code(**ids, code=_last_code(world))
    portal_plan_change.confirm(**ids, plan_id=cheaper_id)  # a downgrade: at the period end
    assert subscription_of(world).pending_plan_id == cheaper_id
    portal_plan_change.undo(**ids)
    assert subscription_of(world).pending_plan_id is None


def test_the_window_expires_after_ten_minutes(wired, gateway):
    world, ids, _ = _world(wired, gateway)
    portal_step_up.send_code(**ids)
    portal_step_up.verify_code(**ids, code=_last_code(world))
    assert not portal_step_up.needs_code(**ids, now=utcnow() + timedelta(minutes=9))
    assert portal_step_up.needs_code(**ids, now=utcnow() + timedelta(minutes=11))
    with pytest.raises(StepUpRequired):
        _cancel(ids, now=utcnow() + timedelta(minutes=11))


def test_the_window_belongs_to_its_portal_session(wired, gateway):
    world, ids, _ = _world(wired, gateway)
    portal_step_up.send_code(**ids)
    portal_step_up.verify_code(**ids, code=_last_code(world))
    with db.session_scope() as session:
        subscriber = session.get(Subscriber, world.subscriber_id)
        link = portal_links.resolve_portal_token(session, portal_links.issue_portal_link(session, subscriber))
        other_cookie = "portal_session=" + sessions.open_portal_session(session, link)
    other = sessions.portal_session_id(other_cookie)
    assert other not in (None, ids["portal_session_id"])
    with pytest.raises(StepUpRequired):
        _cancel({**ids, "portal_session_id": other})


def test_five_wrong_tries_kill_the_code(wired, gateway):
    world, ids, _ = _world(wired, gateway)
    portal_step_up.send_code(**ids)
    code = _last_code(world)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    for attempt in range(1, 6):
        with pytest.raises(StepUpRefused) as err:
            portal_step_up.verify_code(**ids, code=wrong if attempt != 3 else "12ab")
        assert err.value.message == (step_up.WRONG_CODE if attempt < 5 else step_up.CODE_GONE)
    (row,) = rows(wired, StepUpCode, StepUpCode.subscriber_id == world.subscriber_id)
    assert row.attempts == 5
    with pytest.raises(StepUpRefused) as err:  # even the right code now
        portal_step_up.verify_code(**ids, code=code)
    assert err.value.message == step_up.CODE_GONE
    assert portal_step_up.needs_code(**ids)


def test_a_code_expires_after_ten_minutes_and_a_new_code_kills_the_old(wired, gateway, monkeypatch):
    world, ids, _ = _world(wired, gateway)
    portal_step_up.send_code(**ids)
    old = _last_code(world)
    with pytest.raises(StepUpRefused):
        portal_step_up.verify_code(**ids, code=old, now=utcnow() + timedelta(minutes=10, seconds=1))
    monkeypatch.setattr(step_up, "send_burst_limiter", RateLimiter("step-up-burst-test2", limit=5, window_seconds=30))
    portal_step_up.send_code(**ids)
    new = _last_code(world)
    if new != old:
        with pytest.raises(StepUpRefused):
            portal_step_up.verify_code(**ids, code=old)
    portal_step_up.verify_code(**ids, code=new)
    assert not portal_step_up.needs_code(**ids)


def test_sending_is_rate_limited(wired, gateway, monkeypatch):
    world, ids, _ = _world(wired, gateway)
    portal_step_up.send_code(**ids)
    with pytest.raises(StepUpRefused) as err:
        portal_step_up.send_code(**ids)
    assert err.value.message == step_up.WAIT_BEFORE_NEW_CODE
    monkeypatch.setattr(step_up, "send_burst_limiter", RateLimiter("step-up-burst-test3", limit=100, window_seconds=30))
    for _ in range(4):
        portal_step_up.send_code(**ids)
    with pytest.raises(StepUpRefused):  # the sixth in an hour
        portal_step_up.send_code(**ids)
    assert len(emails_of(world, "step_up_code")) == 5


def test_off_by_default_nothing_is_asked(wired, gateway):
    world, ids, _ = _world(wired, gateway, required=False)
    assert not portal_step_up.needs_code(**ids)
    assert _cancel(ids).subscription.cancel_at_period_end
    assert rows(wired, EmailMessage, EmailMessage.kind == "step_up_code") == []


def test_a_revoked_session_cannot_verify(wired, gateway):
    world, ids, _ = _world(wired, gateway)
    portal_step_up.send_code(**ids)
    with db.session_scope() as session:
        session.execute(sa.update(PortalSession).values(revoked_at=utcnow()))
    with pytest.raises(StepUpRefused):
        portal_step_up.verify_code(**ids, code=_last_code(world))


@pytest.fixture
def cancel_state(any_engine, monkeypatch):
    from portal_app.pages.portal.cancel import PortalCancelState
    from portal_app.portal_app import app  # noqa: F401  (registers every page and state)

    yield from signed_in_portal_state(any_engine, monkeypatch, PortalCancelState)


def test_a_raw_handler_call_cannot_skip_the_code(any_engine, cancel_state):
    from portal_app.pages.portal.cancel import PortalCancelState

    with db.session_scope() as session:
        session.execute(sa.update(Merchant).values(step_up_required=True))
    (sub_before,) = rows(any_engine, Subscription)
    out = run_handler(PortalCancelState.confirm_cancel, cancel_state, {"reason": "other", "details": "bye"})
    (sub,) = rows(any_engine, Subscription)
    assert not sub.cancel_at_period_end and sub.canceled_at is None
    assert any("ask" in str(event) for event in out)  # the page is told to ask for the code
    assert not cancel_state.dialog_open
    # The right code, entered through the facade for this very session, lets the cancellation go on.
    ids = {
        "merchant_id": sub.merchant_id,
        "subscriber_id": sub.subscriber_id,
        "portal_session_id": cancel_state._portal_session_id(),
    }
    portal_step_up.send_code(**ids)
    (message,) = rows(any_engine, EmailMessage, EmailMessage.kind == "step_up_code")
    portal_step_up.verify_code(**ids, code=re.search(r"\b(\d{6})\b", message.body_text).group(1))
    run_handler(PortalCancelState.resume_cancel, cancel_state)
    (sub,) = rows(any_engine, Subscription)
    assert sub.cancel_at_period_end and sub.cancellation_reason == "other: bye"
    assert sub_before.id == sub.id


def test_the_console_switch_turns_the_check_on_and_off(wired, gateway):
    from portal_app.billing.facades.console import step_up_setting
    from portal_app.billing.facades.console.forms import ConsoleError

    world, ids, _ = _world(wired, gateway, required=False)
    assert step_up_setting.step_up_required(merchant_id=world.merchant_id) is False
    step_up_setting.set_step_up_required(merchant_id=world.merchant_id, user_id=1, value=True)
    assert portal_step_up.needs_code(**ids)
    with pytest.raises(ConsoleError):
        step_up_setting.set_step_up_required(merchant_id=world.merchant_id, user_id=1, value="yes")
    step_up_setting.set_step_up_required(merchant_id=world.merchant_id, user_id=1, value=False)
    assert not portal_step_up.needs_code(**ids)
