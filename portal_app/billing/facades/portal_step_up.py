"""The portal's step-up verification: send the emailed code, check the typed one, and the one check
every protected portal action calls first (require). Each call takes the portal session's
(merchant_id, subscriber_id) and its portal session id (from the cookie, never from the browser's
arguments) and owns its transaction. The code never leaves this module's callees except in the email."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from portal_app.billing import step_up
from portal_app.billing.facades.outage import calm_on_database_outage
from portal_app.billing.step_up import StepUpRefused, StepUpRequired
from portal_app.db import session_scope
from portal_app.models import utcnow

__all__ = ["StepUpRefused", "StepUpRequired", "needs_code", "require", "send_code", "verify_code"]


def require(
    *,
    merchant_id: int,
    subscriber_id: int,
    portal_session_id: int | None,
    now: datetime | None = None,
    engine: sa.Engine | None = None,
):
    """StepUpRequired unless the merchant does not ask for a code or this session's window is open
    (on `engine`, the calling facade's, when given)."""
    with session_scope(engine) as session:
        step_up.require_step_up(
            session,
            merchant_id=merchant_id,
            subscriber_id=subscriber_id,
            portal_session_id=portal_session_id,
            now=now or utcnow(),
        )


@calm_on_database_outage
def needs_code(
    *, merchant_id: int, subscriber_id: int, portal_session_id: int | None, now: datetime | None = None
) -> bool:
    """Whether a protected change would be refused now (the page asks for the code first)."""
    with session_scope() as session:
        return not step_up.window_open(
            session,
            merchant_id=merchant_id,
            subscriber_id=subscriber_id,
            portal_session_id=portal_session_id,
            now=now or utcnow(),
        )


@calm_on_database_outage
def send_code(
    *, merchant_id: int, subscriber_id: int, portal_session_id: int | None, now: datetime | None = None
) -> str:
    """Email a new code; returns the masked address ("s***@example.com"). StepUpRefused when too soon."""
    if portal_session_id is None:
        raise StepUpRefused(step_up.CODE_GONE)
    with session_scope() as session:
        return step_up.send_code(
            session,
            merchant_id=merchant_id,
            subscriber_id=subscriber_id,
            portal_session_id=portal_session_id,
            now=now or utcnow(),
        )


@calm_on_database_outage
def verify_code(
    *, merchant_id: int, subscriber_id: int, portal_session_id: int | None, code: object, now: datetime | None = None
) -> datetime:
    """Check the typed code; the right one allows changes until the returned instant. A wrong one is
    counted (committed) before StepUpRefused is raised."""
    if portal_session_id is None:
        raise StepUpRefused(step_up.CODE_GONE)
    with session_scope() as session:
        result = step_up.verify_code(
            session,
            merchant_id=merchant_id,
            subscriber_id=subscriber_id,
            portal_session_id=portal_session_id,
            code=code,
            now=now or utcnow(),
        )
    if result.until is None:
        raise StepUpRefused(result.refusal)
    return result.until
