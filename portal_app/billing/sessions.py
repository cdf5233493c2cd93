"""Browser sessions of the portal and the console: one implementation, parameterised by kind.

A random secret lives in an HttpOnly cookie and only its SHA-256 is stored, so a database leak
opens no session. Each kind has an idle and an absolute timeout; logout and a revoked link end a
session at once. The Cookie header is parsed here and nowhere else, for Reflex state and HTTP routes.
"""

from __future__ import annotations

import dataclasses
import hashlib
import secrets
from datetime import datetime, timedelta
from typing import NamedTuple

import sqlalchemy as sa
from sqlmodel import Session, select

from portal_app import i18n, routes
from portal_app.billing.audit import audit
from portal_app.billing.portal_links import check_portal_token, is_subscriber_deleted, record_portal_visit
from portal_app.db import session_scope
from portal_app.models import ConsoleSession, Merchant, MerchantUser, PortalLink, PortalSession, Subscriber, utcnow

MAX_SECRET_LENGTH = 100  # token_urlsafe(32) is 43 characters; anything longer is not ours


@dataclasses.dataclass(frozen=True)
class SessionKind:
    """Where a kind of session is stored, which cookie carries it, and how long it lives."""

    table: type[PortalSession] | type[ConsoleSession]
    cookie: str
    idle: timedelta
    max_age: timedelta
    touch_every: timedelta  # last_seen_at is written at most this often

    @property
    def cookie_max_age_seconds(self) -> int:
        return int(self.max_age.total_seconds())


PORTAL_SESSION = SessionKind(
    PortalSession, routes.PORTAL_SESSION_COOKIE, timedelta(days=7), timedelta(days=30), timedelta(minutes=5)
)
CONSOLE_SESSION = SessionKind(
    ConsoleSession, routes.CONSOLE_SESSION_COOKIE, timedelta(hours=2), timedelta(hours=12), timedelta(minutes=1)
)


class PortalIdentity(NamedTuple):
    """The subscriber behind a live portal session (unpacks as (merchant_id, subscriber_id))."""

    merchant_id: int
    subscriber_id: int


@dataclasses.dataclass(frozen=True)
class ConsoleIdentity:
    """The merchant user behind a live console session."""

    merchant_id: int
    user_id: int
    email: str


def hash_secret(secret: str) -> str:
    """What the database keeps of a session secret."""
    return hashlib.sha256(secret.encode()).hexdigest()


def cookie_value(cookie_header: str, name: str) -> str:
    """The value of cookie `name` in a raw Cookie header, or "".

    Parsed the way browsers and Starlette do (split on ";" then the first "="), so another site
    cookie the stdlib parser rejects cannot hide ours; the last duplicate wins.
    """
    found = ""
    for chunk in (cookie_header or "").split(";"):
        key, sep, value = chunk.partition("=")
        if sep and key.strip() == name:
            value = value.strip()
            found = value[1:-1] if len(value) >= 2 and value[0] == value[-1] == '"' else value
    return found


def secret_from_cookie_header(cookie_header: str, kind: SessionKind) -> str:
    """The session secret of this kind in a raw Cookie header, or ""."""
    return cookie_value(cookie_header, kind.cookie)


# --- One implementation for both kinds ---------------------------------------------------


def _open(session: Session, kind: SessionKind, now: datetime | None, **owner: int) -> str:
    now = now or utcnow()
    secret = secrets.token_urlsafe(32)
    session.add(kind.table(**owner, secret_hash=hash_secret(secret), created_at=now, last_seen_at=now))
    session.flush()
    return secret


def _live_row(session: Session, kind: SessionKind, secret: str, now: datetime):
    """The row of an unrevoked, unexpired session for this secret, or None."""
    if not secret or len(secret) > MAX_SECRET_LENGTH:
        return None
    row = session.exec(select(kind.table).where(kind.table.secret_hash == hash_secret(secret))).first()
    if (
        row is None
        or row.revoked_at is not None
        or now - row.last_seen_at > kind.idle
        or now - row.created_at > kind.max_age
    ):
        return None
    return row


def _touch(session: Session, kind: SessionKind, row, now: datetime) -> None:
    if now - row.last_seen_at > kind.touch_every:
        row.last_seen_at = now
        session.add(row)


def close_session(session: Session, kind: SessionKind, secret: str, *, now: datetime | None = None) -> None:
    """Logout: the session stops working at once (unknown secrets are ignored)."""
    row = session.exec(select(kind.table).where(kind.table.secret_hash == hash_secret(secret or ""))).first()
    if row is not None and row.revoked_at is None:
        row.revoked_at = now or utcnow()
        session.add(row)


# --- Portal sessions (opened by exchanging a portal link) --------------------------------


def open_portal_session(session: Session, link: PortalLink, *, now: datetime | None = None) -> str:
    """A browser session for a resolved link; returns the secret for the cookie."""
    return _open(
        session, PORTAL_SESSION, now, merchant_id=link.merchant_id, subscriber_id=link.subscriber_id, link_id=link.id
    )


def resolve_portal_session(session: Session, secret: str, *, now: datetime | None = None) -> PortalIdentity | None:
    """The subscriber of a live session, or None (unknown, revoked, link revoked, expired, deleted)."""
    now = now or utcnow()
    row = _live_row(session, PORTAL_SESSION, secret, now)
    if row is None:
        return None
    link = session.get(PortalLink, row.link_id)
    if link is None or link.revoked_at is not None:
        return None
    if is_subscriber_deleted(session, link.merchant_id, link.subscriber_id):
        return None
    _touch(session, PORTAL_SESSION, row, now)
    return PortalIdentity(row.merchant_id, row.subscriber_id)


class Exchange(NamedTuple):
    """The answer to a portal link: a cookie secret (opened), or why not and whose link it was.

    reason is "" when opened, else "unknown", "revoked" or "deleted" (portal_links.TokenCheck);
    merchant_slug and language are known for revoked and deleted links only (the subscriber's
    language), so the invalid-link page can be branded and speak the subscriber's language."""

    secret: str | None
    reason: str = ""
    merchant_slug: str = ""
    language: str = ""


def _owner_of(session: Session, merchant_id: int | None, subscriber_id: int | None) -> tuple[str, str]:
    """(merchant slug, the subscriber's language) of a known link or session, or ("", "")."""
    merchant = session.get(Merchant, merchant_id) if merchant_id else None
    if merchant is None:
        return "", ""
    subscriber = session.get(Subscriber, subscriber_id) if subscriber_id else None
    language = subscriber.language if subscriber is not None and subscriber.merchant_id == merchant.id else ""
    return merchant.slug, i18n.language(language or merchant.default_language)


def exchange_portal_token(token: str, *, ip: str) -> Exchange:
    """Swap a portal link token for a new session (visit recorded), or say why it opens nothing."""
    with session_scope() as session:
        check = check_portal_token(session, token)
        if check.link is None:
            slug, language = _owner_of(session, check.merchant_id, check.subscriber_id)
            return Exchange(None, check.reason, slug, language)
        secret = open_portal_session(session, check.link)
        record_portal_visit(session, check.link, ip=ip)
        return Exchange(secret)


def ended_portal_session(cookie_header: str) -> tuple[str, str, str]:
    """(reason, merchant slug, language) for this browser's portal session that no longer opens
    anything: "deleted" when the subscriber's subscriptions were deleted, else "ended" (expired,
    closed, its link replaced); ("ended", "", "") when the cookie names no session at all. Never a
    secret: only public facts of the cookie's own owner."""
    secret = secret_from_cookie_header(cookie_header, PORTAL_SESSION)
    if not secret or len(secret) > MAX_SECRET_LENGTH:
        return "ended", "", ""
    with session_scope() as session:
        row = session.exec(select(PortalSession).where(PortalSession.secret_hash == hash_secret(secret))).first()
        if row is None:
            return "ended", "", ""
        slug, language = _owner_of(session, row.merchant_id, row.subscriber_id)
        deleted = is_subscriber_deleted(session, row.merchant_id, row.subscriber_id)
        return ("deleted" if deleted else "ended"), slug, language


def ended_session_url(cookie_header: str) -> str:
    """The invalid-link page for a browser whose portal session ended (reason "ended", or "deleted"
    when the subscription was removed), branded when the cookie names a session: where portal
    handlers and downloads send such a browser."""
    reason, slug, language = ended_portal_session(cookie_header)
    return routes.portal_invalid_url(reason, merchant_slug=slug, lang=language)


def portal_identity(cookie_header: str) -> PortalIdentity | None:
    """Who is calling, from a request's Cookie header: the one check for Reflex state and HTTP routes."""
    secret = secret_from_cookie_header(cookie_header, PORTAL_SESSION)
    if not secret:
        return None
    with session_scope() as session:
        return resolve_portal_session(session, secret)


def portal_session_id(cookie_header: str) -> int | None:
    """The id of this browser's live portal session (what step-up verification binds to), or None."""
    secret = secret_from_cookie_header(cookie_header, PORTAL_SESSION)
    if not secret:
        return None
    with session_scope() as session:
        row = _live_row(session, PORTAL_SESSION, secret, utcnow())
        return row.id if row is not None and resolve_portal_session(session, secret) is not None else None


def portal_return_url(cookie_header: str) -> str:
    """Where "Return to <merchant>" leads for this browser's live portal session ("" = nowhere):
    the return URL the merchant gave when it made the portal grant that opened the session."""
    secret = secret_from_cookie_header(cookie_header, PORTAL_SESSION)
    if not secret:
        return ""
    with session_scope() as session:
        if resolve_portal_session(session, secret) is None:
            return ""
        row = _live_row(session, PORTAL_SESSION, secret, utcnow())
        return row.return_url if row is not None else ""


# --- Console sessions (opened by a password login) ---------------------------------------


def open_console_session(session: Session, user: MerchantUser, *, now: datetime | None = None) -> str:
    """A fresh session for a successful login; returns the cookie secret."""
    return _open(session, CONSOLE_SESSION, now, merchant_id=user.merchant_id, user_id=user.id)


def rotate_console_session(
    session: Session, previous_secret: str, user: MerchantUser, *, now: datetime | None = None
) -> str:
    """Login: whatever session this browser had ends here, and a new one begins."""
    close_session(session, CONSOLE_SESSION, previous_secret, now=now)
    return open_console_session(session, user, now=now)


def resolve_console_session(session: Session, secret: str, *, now: datetime | None = None) -> ConsoleIdentity | None:
    """The user of a live session, or None (unknown, revoked, expired, user moved merchants)."""
    now = now or utcnow()
    row = _live_row(session, CONSOLE_SESSION, secret, now)
    if row is None:
        return None
    user = session.get(MerchantUser, row.user_id)
    if user is None or user.merchant_id != row.merchant_id:
        return None
    _touch(session, CONSOLE_SESSION, row, now)
    return ConsoleIdentity(merchant_id=row.merchant_id, user_id=user.id, email=user.email)


def console_identity(cookie_header: str) -> ConsoleIdentity | None:
    """Who is calling, from a request's Cookie header: the one check for Reflex state and HTTP routes."""
    secret = secret_from_cookie_header(cookie_header, CONSOLE_SESSION)
    if not secret:
        return None
    with session_scope() as session:
        return resolve_console_session(session, secret)


def sign_out_console(cookie_header: str) -> None:
    """Logout from a request's Cookie header, in its own transaction."""
    with session_scope() as session:
        close_session(session, CONSOLE_SESSION, secret_from_cookie_header(cookie_header, CONSOLE_SESSION))


def revoke_console_sessions(session: Session, user_id: int, *, now: datetime | None = None) -> int:
    """Every live console session of this user ends at once (all browsers); how many ended."""
    table = ConsoleSession.__table__
    result = session.execute(
        sa.update(table)
        .where(table.c.user_id == user_id, table.c.revoked_at.is_(None))
        .values(revoked_at=now or utcnow())
    )
    return result.rowcount or 0


def sign_out_everywhere(cookie_header: str) -> ConsoleIdentity | None:
    """Sign out everywhere, from a request's Cookie header: every session of its user ends, this one
    included; the identity that was signed in, or None (nothing ended without a live session)."""
    with session_scope() as session:
        identity = resolve_console_session(session, secret_from_cookie_header(cookie_header, CONSOLE_SESSION))
        if identity is not None:
            revoke_console_sessions(session, identity.user_id)
            audit(
                session,
                merchant_id=identity.merchant_id,
                subscriber_id=None,
                actor=f"user:{identity.user_id}",
                kind="signed_out_everywhere",
            )
        return identity
