"""Pausing in the portal, like a subscriber: choose a resume day within the plan's range, see
"Pauses on ..., resumes ...", take it back; a running pause shows "Paused until ..." and the true next
charge, and "Resume now" charges and reactivates; English and Spanish, desktop and phone."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlmodel import Session, select

from portal_app.billing.gateways.simulated import SimulatedGateway
from portal_app.billing.runs import run_billing
from portal_app.models import Invoice, Subscription, utcnow

from .conftest import assert_no_horizontal_scroll, open_portal, screenshot
from .lifecycle_builders import PAUSABLE, lifecycle_subscriber

pytestmark = pytest.mark.e2e


def _sub(engine, subscriber_id) -> Subscription:
    with Session(engine) as session:
        return session.exec(select(Subscription).where(Subscription.subscriber_id == subscriber_id)).one()


def test_schedule_a_pause_and_take_it_back(server, page):
    subscriber_id, token = lifecycle_subscriber(server["engine"], plan=PAUSABLE)
    open_portal(page, server, token)
    page.get_by_role("button", name="Pause subscription").click()
    dialog = page.get_by_role("dialog", name="Pause your subscription?")
    dialog.wait_for()
    sub = _sub(server["engine"], subscriber_id)
    first, last = (
        (sub.current_period_end + timedelta(days=1)).date(),
        (sub.current_period_end + timedelta(days=30)).date(),
    )
    picker = dialog.get_by_label("Resume on")
    assert (picker.get_attribute("min"), picker.get_attribute("max")) == (first.isoformat(), last.isoformat())
    screenshot(page, "portal-pause-dialog")
    picker.fill((first + timedelta(days=9)).isoformat())
    dialog.get_by_role("button", name="Pause", exact=True).click()
    status = page.get_by_test_id("pause-status")
    status.wait_for()
    assert re.match(r"Pauses on .+, resumes .+", status.inner_text())
    sub = _sub(server["engine"], subscriber_id)
    assert sub.pause_starts_at == sub.current_period_end and sub.resume_at.date() == first + timedelta(days=9)
    # The next charge is on the resume day, not at the period end.
    assert str(sub.resume_at.day) in page.get_by_test_id("next-date").inner_text()
    assert_no_horizontal_scroll(page)
    screenshot(page, "portal-pause-scheduled")
    page.get_by_role("button", name="Don't pause").click()
    page.get_by_text("Your subscription will not pause.").wait_for()
    page.get_by_role("button", name="Pause subscription").wait_for()
    assert _sub(server["engine"], subscriber_id).resume_at is None


def test_a_running_pause_in_spanish_and_resume_now(server, page):
    engine = server["engine"]
    subscriber_id, token = lifecycle_subscriber(engine, plan=PAUSABLE, language="es", days_ago=40)
    # The period ended: schedule and begin the pause through the engine (as the run does).
    sub = _sub(engine, subscriber_id)
    with Session(engine) as session:
        session.execute(
            sa.update(Subscription)
            .where(Subscription.id == sub.id)
            .values(pause_starts_at=sub.current_period_end, resume_at=sub.current_period_end + timedelta(days=20))
        )
        session.commit()
    run_billing(engine, now=utcnow(), gateway=SimulatedGateway())
    assert _sub(engine, subscriber_id).status == "paused"
    open_portal(page, server, token)
    status = page.get_by_test_id("pause-status")
    status.wait_for()
    assert status.inner_text().startswith("En pausa hasta el")
    assert page.get_by_test_id("subscription-status").get_attribute("data-status") == "paused"
    assert page.get_by_test_id("next-amount").inner_text().strip() != ""
    assert_no_horizontal_scroll(page)
    screenshot(page, "portal-paused-es")
    with Session(engine) as session:
        invoices = session.exec(
            select(sa.func.count()).select_from(Invoice).where(Invoice.subscriber_id == subscriber_id)
        ).one()
    page.get_by_role("button", name="Reanudar ahora").click()
    page.get_by_text("Su suscripción está activa de nuevo.").wait_for()
    sub = _sub(engine, subscriber_id)
    assert sub.status == "active" and sub.resume_at is None
    with Session(engine) as session:
        paid = session.exec(
            select(Invoice).where(Invoice.subscriber_id == subscriber_id).order_by(Invoice.id.desc())
        ).first()
        count = session.exec(
            select(sa.func.count()).select_from(Invoice).where(Invoice.subscriber_id == subscriber_id)
        ).one()
    assert count == invoices + 1 and paid.status == "paid" and paid.period_start == sub.anchor_at
    assert page.get_by_test_id("pause-status").count() == 0
