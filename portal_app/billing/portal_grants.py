"""Portal grants: short-lived, single-use ways into one subscriber's portal.

The merchant's app asks for one (POST /api/v1/portal_sessions, its "Manage billing" button) and
redirects its signed-in customer there; the hosted signup page lands a new subscriber the same way.
Like Stripe's portal sessions: minutes long, used once, never revoking the lasting portal link.

The token has 256 random bits; only its SHA-256 is stored. Redeeming is a conditional UPDATE
(unredeemed and unexpired -> redeemed), so two concurrent redemptions open exactly one session.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
import secrets
from datetime import datetime, timedelta
from typing import NamedTuple
from urllib.parse import urlsplit

import sqlalchemy as sa
from sqlmodel import Session, select

from portal_app import routes
from portal_app.billing.audit import audit
from portal_app.billing.errors import BillingError, NotFound
from portal_app.billing.portal_links import is_subscriber_deleted, issue_portal_link, record_portal_visit
from portal_app.billing.sessions import hash_secret, open_portal_session
from portal_app.db import session_scope
from portal_app.models import PortalGrant as PortalGrantRow
from portal_app.models import PortalLink, PortalSession, Subscriber, utcnow
from portal_app.settings import get_settings

GRANT_LIFETIME = timedelta(minutes=5)
FLOWS = ("payment_method_update", "subscription_cancel", "subscription_update", "invoices")
MAX_RETURN_URL = 2000
_TOKEN_RE = re.compile(r"[A-Za-z0-9_-]{43}")  # token_urlsafe(32)


class InvalidPortalGrant(BillingError):
    """A grant request the caller must fix (bad return_url or flow); `field` names the parameter."""

    code = "invalid_request"


@dataclasses.dataclass(frozen=True)
class PortalGrant:
    """A created grant. `url` carries the token: hand it to the customer's browser once, never log it."""

    id: int
    url: str
    expires_at: datetime
    flow: str | None
    return_url: str | None
    subscriber_id: int = 0


class GrantRedemption(NamedTuple):
    """A redeemed grant: the portal session's cookie secret and the step to open ("" = the overview)."""

    secret: str
    flow: str


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def check_flow(flow: object) -> str:
    """The flow, exactly one of FLOWS (or "" for none); anything else is refused."""
    if flow is None or flow == "":
        return ""
    if not isinstance(flow, str) or flow not in FLOWS:
        raise InvalidPortalGrant(f"flow must be one of: {', '.join(FLOWS)}.", field="flow")
    return flow


def check_return_url(url: object) -> str:
    """An absolute http(s) URL (https only in production), at most 2000 characters; "" for none."""
    if url is None or url == "":
        return ""
    if not isinstance(url, str) or len(url) > MAX_RETURN_URL:
        raise InvalidPortalGrant(
            f"return_url must be a URL of at most {MAX_RETURN_URL} characters.", field="return_url"
        )
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in url):
        raise InvalidPortalGrant("return_url must not contain spaces or control characters.", field="return_url")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises on a malformed port
    except ValueError:
        raise InvalidPortalGrant("return_url is not a valid URL.", field="return_url") from None
    schemes = ("https",) if get_settings().environment == "production" else ("http", "https")
    if parts.scheme.lower() not in schemes or not parts.hostname:
        wanted = "an absolute https URL" if schemes == ("https",) else "an absolute http(s) URL"
        raise InvalidPortalGrant(f"return_url must be {wanted}.", field="return_url")
    if parts.username is not None or parts.password is not None:
        raise InvalidPortalGrant("return_url must not carry a user name or password.", field="return_url")
    return url


def create_portal_grant(
    session: Session,
    *,
    merchant_id: int,
    subscriber_id: int,
    return_url: str | None = None,
    flow: str | None = None,
    actor: str,
    now: datetime | None = None,
) -> PortalGrant:
    """A single-use portal URL for one of this merchant's subscribers, valid for GRANT_LIFETIME.

    NotFound for another merchant's subscriber, an unknown id or a subscriber whose subscriptions
    were all deleted (they have no portal); InvalidPortalGrant for a bad return_url or flow.
    """
    now = now or utcnow()
    flow = check_flow(flow)
    return_url = check_return_url(return_url)
    subscriber = session.get(Subscriber, subscriber_id) if isinstance(subscriber_id, int) else None
    if subscriber is None or subscriber.merchant_id != merchant_id:
        raise NotFound("Subscriber not found")
    if is_subscriber_deleted(session, merchant_id, subscriber_id):
        raise NotFound("Subscriber not found")
    token = secrets.token_urlsafe(32)
    row = PortalGrantRow(
        merchant_id=merchant_id,
        subscriber_id=subscriber_id,
        token_hash=_hash(token),
        flow=flow,
        return_url=return_url,
        created_by=str(actor)[:60],
        created_at=now,
        expires_at=now + GRANT_LIFETIME,
    )
    session.add(row)
    session.flush()
    audit(
        session,
        merchant_id=merchant_id,
        subscriber_id=subscriber_id,
        actor=actor,
        kind="portal_grant_created",
        detail={"grant_id": row.id, "flow": flow},
        now=now,
    )
    return PortalGrant(
        id=row.id,
        url=routes.portal_grant_url(token),
        expires_at=row.expires_at,
        flow=flow or None,
        return_url=return_url or None,
        subscriber_id=subscriber_id,
    )


def _lasting_link(session: Session, subscriber: Subscriber, now: datetime) -> PortalLink:
    """The subscriber's current lasting link (never revoked here); the first one if none is live."""
    link = session.exec(
        select(PortalLink)
        .where(
            PortalLink.subscriber_id == subscriber.id,
            PortalLink.merchant_id == subscriber.merchant_id,
            PortalLink.revoked_at.is_(None),
        )
        .order_by(PortalLink.id.desc())
    ).first()
    if link is None:
        issue_portal_link(session, subscriber, now=now)  # none live, so nothing is revoked
        return _lasting_link(session, subscriber, now)
    return link


def redeem_portal_grant(token: str, *, ip: str, now: datetime | None = None) -> GrantRedemption | None:
    """Use a grant once: a portal session on the subscriber's lasting link, carrying the grant's
    return URL; None for a malformed, unknown, expired or used token, or a deleted subscriber."""
    if not isinstance(token, str) or not _TOKEN_RE.fullmatch(token):
        return None
    now = now or utcnow()
    table = PortalGrantRow.__table__
    with session_scope() as session:
        claimed = session.execute(
            sa.update(table)
            .where(table.c.token_hash == _hash(token), table.c.redeemed_at.is_(None), table.c.expires_at > now)
            .values(redeemed_at=now)
        ).rowcount
        if claimed != 1:
            return None
        grant = session.exec(select(PortalGrantRow).where(PortalGrantRow.token_hash == _hash(token))).one()
        subscriber = session.get(Subscriber, grant.subscriber_id)
        if subscriber is None or subscriber.merchant_id != grant.merchant_id:
            return None
        if is_subscriber_deleted(session, grant.merchant_id, grant.subscriber_id):
            return None
        link = _lasting_link(session, subscriber, now)
        secret = open_portal_session(session, link, now=now)
        if grant.return_url:
            opened = session.exec(select(PortalSession).where(PortalSession.secret_hash == hash_secret(secret))).one()
            opened.return_url = grant.return_url
            session.add(opened)
        record_portal_visit(session, link, ip=ip)
        return GrantRedemption(secret, grant.flow)
