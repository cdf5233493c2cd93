"""Step-up verification: when the merchant asks for it (Merchant.step_up_required), a portal session
must prove it still reaches the subscriber's mailbox before changing the card, the plan, a pause or
cancelling: a six-digit code is emailed, and the right code opens a 10-minute window on that portal
session (PortalSession.step_up_until) in which those changes are allowed.

The code is drawn uniformly from 000000-999999 (secrets), stored only as an HMAC under SECRET_KEY
bound to the portal session, valid 10 minutes; 5 wrong tries kill it; a new code kills the one
before; sending is rate-limited per subscriber (1 per 30 s, 5 per hour). Comparison is constant-time.
The code itself lives only in the email (the outbox row that carries it) and never in a log line,
an audit detail or Reflex state.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import re
import secrets
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session, select

from portal_app.billing.audit import audit
from portal_app.billing.errors import BillingError
from portal_app.billing.notify import send_subscriber_email
from portal_app.billing.tenancy import get_scoped
from portal_app.models import Merchant, PortalSession, StepUpCode, Subscriber
from portal_app.ratelimit import RateLimiter
from portal_app.settings import get_settings

CODE_LIFETIME = timedelta(minutes=10)
WINDOW = timedelta(minutes=10)
MAX_TRIES = 5
_CODE = re.compile(r"[0-9]{6}")

# Per subscriber (merchant_id:subscriber_id): a code at most every 30 s and 5 an hour, so the
# subscriber's mailbox cannot be flooded and nobody gets many codes to guess against.
send_burst_limiter = RateLimiter("step-up-send-burst", limit=1, window_seconds=30)
send_hourly_limiter = RateLimiter("step-up-send-hourly", limit=5, window_seconds=3600)

WAIT_BEFORE_NEW_CODE = "Please wait a little before asking for another code."
WRONG_CODE = "That code is not right. Please check the email and try again."
CODE_GONE = "This code is no longer valid. Please ask for a new one."


class StepUpRequired(BillingError):
    """The merchant asks for an emailed code before this change, and this session has not entered one
    in the last 10 minutes: the page asks for it, then tries the change again."""

    code = "step_up_required"

    def __init__(self, message: str = "Please confirm it is you: enter the code we emailed you."):
        super().__init__(message)


class StepUpRefused(BillingError):
    """A code could not be sent or was not accepted (wrong, expired, too many tries, rate limit)."""

    code = "step_up_refused"


def new_code() -> str:
    """Six digits, uniform over 000000-999999."""
    return f"{secrets.randbelow(1_000_000):06d}"


def code_hash(code: str, *, portal_session_id: int, secret_key: str | None = None) -> str:
    """The stored form of a code: an HMAC under SECRET_KEY bound to the portal session it was sent
    for (the same digits from another session never match)."""
    key = (secret_key or get_settings().secret_key).encode()
    return hmac.new(key, f"step-up:{portal_session_id}:{code}".encode(), hashlib.sha256).hexdigest()


def masked_email(email: str) -> str:
    """s***@example.com: enough for the subscriber to recognise the address, not to learn it."""
    local, _, domain = (email or "").partition("@")
    return f"{local[:1]}***@{domain}" if domain else "***"


def _portal_session(session: Session, portal_session_id: object, merchant_id: int, subscriber_id: int, *, lock=False):
    """The portal session row, if it is this subscriber's (else None)."""
    if isinstance(portal_session_id, bool) or not isinstance(portal_session_id, int):
        return None
    stmt = select(PortalSession).where(
        PortalSession.id == portal_session_id,
        PortalSession.merchant_id == merchant_id,
        PortalSession.subscriber_id == subscriber_id,
        PortalSession.revoked_at.is_(None),
    )
    if lock:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    return session.exec(stmt).first()


def _aware(moment: datetime | None) -> datetime | None:
    return moment.replace(tzinfo=UTC) if moment is not None and moment.tzinfo is None else moment


def is_required(session: Session, merchant_id: int) -> bool:
    merchant = session.get(Merchant, merchant_id)
    return bool(merchant and merchant.step_up_required)


def window_open(
    session: Session, *, merchant_id: int, subscriber_id: int, portal_session_id: int | None, now: datetime
) -> bool:
    """Whether this session may make protected changes now: the merchant does not ask for a code,
    or the session entered the right one less than 10 minutes ago."""
    if not is_required(session, merchant_id):
        return True
    row = _portal_session(session, portal_session_id, merchant_id, subscriber_id)
    until = _aware(row.step_up_until) if row is not None else None
    return until is not None and now < until


def require_step_up(
    session: Session, *, merchant_id: int, subscriber_id: int, portal_session_id: int | None, now: datetime
) -> None:
    """The one check every protected portal action makes first: StepUpRequired unless the window is open."""
    if not window_open(
        session, merchant_id=merchant_id, subscriber_id=subscriber_id, portal_session_id=portal_session_id, now=now
    ):
        raise StepUpRequired()


def send_code(session: Session, *, merchant_id: int, subscriber_id: int, portal_session_id: int, now: datetime) -> str:
    """Email a new code for this portal session (the previous one stops working); returns the
    masked address it went to. StepUpRefused when asked again too soon."""
    subscriber = get_scoped(session, Subscriber, subscriber_id, merchant_id)
    row = _portal_session(session, portal_session_id, merchant_id, subscriber_id, lock=True)
    if row is None:
        raise StepUpRefused(CODE_GONE)
    key = f"{merchant_id}:{subscriber_id}"
    if not send_burst_limiter.hit(key) or not send_hourly_limiter.hit(key):
        raise StepUpRefused(WAIT_BEFORE_NEW_CODE)
    _kill_open_codes(session, row.id, now)
    code = new_code()
    session.add(
        StepUpCode(
            merchant_id=merchant_id,
            subscriber_id=subscriber_id,
            portal_session_id=row.id,
            code_hash=code_hash(code, portal_session_id=row.id),
            created_at=now,
            expires_at=now + CODE_LIFETIME,
        )
    )
    send_subscriber_email(
        session,
        merchant=session.get(Merchant, merchant_id),
        subscriber=subscriber,
        kind="step_up_code",
        now=now,
        context={"code": code, "minutes": int(CODE_LIFETIME.total_seconds() // 60)},
        with_portal_link=False,
    )
    audit(
        session,
        merchant_id=merchant_id,
        subscriber_id=subscriber_id,
        actor="subscriber",
        kind="step_up_code_sent",
        detail={"portal_session_id": row.id},
        now=now,
    )
    return masked_email(subscriber.email)


def _kill_open_codes(session: Session, portal_session_id: int, now: datetime) -> None:
    session.execute(
        sa.update(StepUpCode)
        .where(
            StepUpCode.portal_session_id == portal_session_id,
            StepUpCode.verified_at.is_(None),
            StepUpCode.expires_at > now,
        )
        .values(expires_at=now)
        .execution_options(synchronize_session=False)
    )


@dataclasses.dataclass(frozen=True)
class Verification:
    """The answer to a typed code: until when changes are allowed, or the refusal to show."""

    until: datetime | None
    refusal: str = ""


def verify_code(
    session: Session, *, merchant_id: int, subscriber_id: int, portal_session_id: int, code: object, now: datetime
) -> Verification:
    """Check the code the subscriber typed against this session's latest one; the right one opens
    the window. A wrong one counts a try (returned as a refusal, so the caller commits the count);
    the fifth wrong try kills the code."""
    row = _portal_session(session, portal_session_id, merchant_id, subscriber_id, lock=True)
    if row is None:
        return Verification(None, CODE_GONE)
    latest = session.exec(
        select(StepUpCode)
        .where(StepUpCode.portal_session_id == row.id, StepUpCode.verified_at.is_(None))
        .order_by(StepUpCode.id.desc())
        .limit(1)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).first()
    if latest is None or not now < _aware(latest.expires_at) or latest.attempts >= MAX_TRIES:
        return Verification(None, CODE_GONE)
    typed = code.strip().replace(" ", "") if isinstance(code, str) else ""
    # Same work whatever was typed: a malformed entry is compared (and counted) like a wrong code.
    candidate = typed if _CODE.fullmatch(typed) else "x"
    if not hmac.compare_digest(latest.code_hash, code_hash(candidate, portal_session_id=row.id)):
        latest.attempts += 1
        if latest.attempts >= MAX_TRIES:
            latest.expires_at = now
        session.add(latest)
        session.flush()
        audit(
            session,
            merchant_id=merchant_id,
            subscriber_id=subscriber_id,
            actor="subscriber",
            kind="step_up_failed",
            detail={"portal_session_id": row.id, "attempts": latest.attempts},
            now=now,
        )
        return Verification(None, CODE_GONE if latest.attempts >= MAX_TRIES else WRONG_CODE)
    latest.verified_at = now
    row.step_up_until = now + WINDOW
    session.add_all([latest, row])
    session.flush()
    audit(
        session,
        merchant_id=merchant_id,
        subscriber_id=subscriber_id,
        actor="subscriber",
        kind="step_up_verified",
        detail={"portal_session_id": row.id},
        now=now,
    )
    return Verification(row.step_up_until)
