"""Portal links: long-lived bearer links that open one subscriber's portal.

token = base64url(HMAC-SHA256(SECRET_KEY, "portal-link:" + nonce)), 256 bits.
The database keeps the random nonce and SHA-256(token): a database leak alone reveals no
working link, while the console can still show a subscriber's current link again.
Rotating SECRET_KEY invalidates every link. The browser sessions a link opens live in sessions.py.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from datetime import datetime
from typing import NamedTuple

from sqlmodel import Session, select

from portal_app.billing.audit import audit
from portal_app.billing.webhooks_out.events import portal_link_regenerated
from portal_app.models import PortalLink, Subscriber, Subscription, utcnow
from portal_app.routes import portal_url
from portal_app.settings import get_settings

# 32 bytes of HMAC output -> 43 base64url characters, no padding.
_TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{43}$")


def _derive_token(nonce: str, secret_key: str | None = None) -> str:
    key = (secret_key or get_settings().secret_key).encode()
    digest = hmac.new(key, f"portal-link:{nonce}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def is_well_formed(token: str) -> bool:
    return bool(_TOKEN_RE.fullmatch(token or ""))


def issue_portal_link(session: Session, subscriber: Subscriber, *, now: datetime | None = None) -> str:
    """Revoke the subscriber's current links and issue a new one; returns the raw token."""
    now = now or utcnow()
    for link in session.exec(
        select(PortalLink).where(
            PortalLink.subscriber_id == subscriber.id,
            PortalLink.merchant_id == subscriber.merchant_id,
            PortalLink.revoked_at.is_(None),
        )
    ):
        link.revoked_at = now
        session.add(link)
    nonce = secrets.token_urlsafe(32)
    token = _derive_token(nonce)
    session.add(
        PortalLink(
            merchant_id=subscriber.merchant_id,
            subscriber_id=subscriber.id,
            nonce=nonce,
            token_hash=_hash_token(token),
            created_at=now,
        )
    )
    session.flush()
    return token


def regenerate_portal_link(session: Session, subscriber: Subscriber, *, actor: str, now: datetime | None = None) -> str:
    """A merchant (console or API) replaces the subscriber's link: issue_portal_link, on the timeline
    and reported as portal_link.regenerated (the event names the subscriber, never the link).
    Returns the raw token."""
    now = now or utcnow()
    token = issue_portal_link(session, subscriber, now=now)
    audit(
        session,
        merchant_id=subscriber.merchant_id,
        subscriber_id=subscriber.id,
        actor=actor,
        kind="portal_link_regenerated",
        detail={},
        now=now,
    )
    portal_link_regenerated(session, subscriber, now=now)
    return token


def revoke_portal_links(session: Session, *, merchant_id: int, subscriber_id: int, now: datetime | None = None) -> int:
    """Revoke every live link of a subscriber (regenerate, delete). Returns how many."""
    now = now or utcnow()
    links = session.exec(
        select(PortalLink).where(
            PortalLink.subscriber_id == subscriber_id,
            PortalLink.merchant_id == merchant_id,
            PortalLink.revoked_at.is_(None),
        )
    ).all()
    for link in links:
        link.revoked_at = now
        session.add(link)
    return len(links)


def current_portal_token(session: Session, subscriber: Subscriber) -> str | None:
    """The live token of a subscriber (re-derived), or None if every link is revoked."""
    link = session.exec(
        select(PortalLink)
        .where(
            PortalLink.subscriber_id == subscriber.id,
            PortalLink.merchant_id == subscriber.merchant_id,
            PortalLink.revoked_at.is_(None),
        )
        .order_by(PortalLink.id.desc())
    ).first()
    return _derive_token(link.nonce) if link else None


def current_portal_url(session: Session, subscriber: Subscriber) -> str:
    """The subscriber's live portal URL, issuing a link if there is none."""
    token = current_portal_token(session, subscriber) or issue_portal_link(session, subscriber)
    return portal_url(token)


def is_subscriber_deleted(session: Session, merchant_id: int, subscriber_id: int) -> bool:
    """True when every subscription of the subscriber was deleted (canceled ones keep access)."""
    subs = session.exec(
        select(Subscription.deleted_at).where(
            Subscription.subscriber_id == subscriber_id, Subscription.merchant_id == merchant_id
        )
    ).all()
    return bool(subs) and all(deleted_at is not None for deleted_at in subs)


class TokenCheck(NamedTuple):
    """What a portal token is: its live link (reason ""), or why it opens nothing.

    reason: "" (live), "unknown" (malformed, never issued, or from another SECRET_KEY: nothing is
    known, not even the merchant), "revoked" (replaced by a newer link) or "deleted" (every
    subscription of the subscriber was deleted). For "revoked" and "deleted" the link row is known,
    so the invalid-link page can name the merchant; `link` is set only when the token is live.
    """

    reason: str
    link: PortalLink | None = None
    merchant_id: int | None = None
    subscriber_id: int | None = None


UNKNOWN = TokenCheck("unknown")


def check_portal_token(session: Session, token: str, *, now: datetime | None = None) -> TokenCheck:
    """Resolve a token with the reason it fails (see TokenCheck); a live one is marked used.

    A subscriber whose every subscription was deleted has no portal; a canceled one keeps it.
    Deletion is reported before revocation (deleting a subscriber also revokes its links).
    """
    if not is_well_formed(token):
        return UNKNOWN
    token_hash = _hash_token(token)
    link = session.exec(select(PortalLink).where(PortalLink.token_hash == token_hash)).first()
    # Constant-time re-check against the derivation (guards a forged row or a rotated key).
    if link is None or not hmac.compare_digest(_derive_token(link.nonce), token):
        return UNKNOWN
    if is_subscriber_deleted(session, link.merchant_id, link.subscriber_id):
        return TokenCheck("deleted", None, link.merchant_id, link.subscriber_id)
    if link.revoked_at is not None:
        return TokenCheck("revoked", None, link.merchant_id, link.subscriber_id)
    link.last_used_at = now or utcnow()
    session.add(link)
    return TokenCheck("", link, link.merchant_id, link.subscriber_id)


def resolve_portal_token(session: Session, token: str, *, now: datetime | None = None) -> PortalLink | None:
    """The live link for a token, or None for malformed, unknown, revoked or deleted ones."""
    return check_portal_token(session, token, now=now).link


def record_portal_visit(session: Session, link: PortalLink, *, ip: str) -> None:
    """Timeline entry for the merchant: the subscriber opened the portal."""
    audit(
        session,
        merchant_id=link.merchant_id,
        subscriber_id=link.subscriber_id,
        actor="subscriber",
        kind="portal_visit",
        detail={"ip": ip},
    )
