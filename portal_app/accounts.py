"""Merchant accounts: sign-up, password login and server-side console sessions.

Passwords: Argon2id with OWASP's minimum (19 MiB, 2 iterations, 1 lane). Sessions: a random
secret in an HttpOnly cookie, only its SHA-256 stored; a new one at every login; logout revokes;
idle and absolute timeouts. Unknown email and wrong password get the same answer and take the
same time.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
import secrets
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlmodel import Session, select

from portal_app.models import ConsoleSession, Merchant, MerchantUser, utcnow

password_hasher = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)
# Verified against for unknown emails, so both failures cost one Argon2 computation.
_DUMMY_HASH = password_hasher.hash(secrets.token_urlsafe(16))

CONSOLE_SESSION_IDLE = timedelta(hours=2)
CONSOLE_SESSION_MAX_AGE = timedelta(hours=12)
MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 256
_EMAIL_RE = re.compile(r"^[^@\s<>\"']{1,64}@[A-Za-z0-9.-]{1,190}\.[A-Za-z]{2,24}$")


class AccountError(ValueError):
    """A user-facing refusal (the message is safe to show)."""


def normalize_email(email: str) -> str:
    email = (email or "").strip().lower()
    if len(email) > 254 or not _EMAIL_RE.fullmatch(email):
        raise AccountError("Enter a valid email address.")
    return email


def hash_password(password: str) -> str:
    if not isinstance(password, str) or not MIN_PASSWORD_LENGTH <= len(password) <= MAX_PASSWORD_LENGTH:
        raise AccountError(f"Use a password of {MIN_PASSWORD_LENGTH} to {MAX_PASSWORD_LENGTH} characters.")
    return password_hasher.hash(password)


def _slug_for(session: Session, company_name: str) -> str:
    base = re.sub(r"[^a-z0-9]+", "-", company_name.lower()).strip("-")[:40] or "merchant"
    slug, n = base, 1
    while session.exec(select(Merchant.id).where(Merchant.slug == slug)).first() is not None:
        n += 1
        slug = f"{base}-{n}"
    return slug


def _invoice_prefix(company_name: str) -> str:
    letters = re.sub(r"[^A-Za-z0-9]", "", company_name).upper()
    return letters[:4] or "INV"


def sign_up(session: Session, *, company_name: str, email: str, password: str) -> MerchantUser:
    """Create a merchant and its first user."""
    company_name = (company_name or "").strip()
    if not 1 <= len(company_name) <= 120:
        raise AccountError("Enter your company name (up to 120 characters).")
    email = normalize_email(email)
    password_hash = hash_password(password)
    if session.exec(select(MerchantUser.id).where(MerchantUser.email == email)).first() is not None:
        raise AccountError("An account with this email already exists. Sign in instead.")
    merchant = Merchant(
        name=company_name,
        slug=_slug_for(session, company_name),
        invoice_prefix=_invoice_prefix(company_name),
        support_email=email,
    )
    session.add(merchant)
    session.flush()
    user = MerchantUser(merchant_id=merchant.id, email=email, password_hash=password_hash)
    session.add(user)
    session.flush()
    return user


def add_user(session: Session, *, merchant_id: int, email: str, password: str, name: str = "") -> MerchantUser:
    """Another user of an existing merchant."""
    email = normalize_email(email)
    password_hash = hash_password(password)
    if session.exec(select(MerchantUser.id).where(MerchantUser.email == email)).first() is not None:
        raise AccountError("An account with this email already exists.")
    user = MerchantUser(merchant_id=merchant_id, email=email, name=name[:120], password_hash=password_hash)
    session.add(user)
    session.flush()
    return user


def authenticate(session: Session, *, email: str, password: str) -> MerchantUser | None:
    """The user for these credentials, or None; the same work whether the email exists or not."""
    try:
        email = normalize_email(email)
    except AccountError:
        email = ""
    password = (password or "")[:MAX_PASSWORD_LENGTH]
    user = session.exec(select(MerchantUser).where(MerchantUser.email == email)).first() if email else None
    try:
        password_hasher.verify(user.password_hash if user else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return None
    if user is None:
        return None
    if password_hasher.check_needs_rehash(user.password_hash):
        user.password_hash = password_hasher.hash(password)
        session.add(user)
    return user


def _hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def open_console_session(session: Session, user: MerchantUser, *, now: datetime | None = None) -> str:
    """A fresh session for a successful login; returns the cookie secret."""
    now = now or utcnow()
    secret = secrets.token_urlsafe(32)
    session.add(
        ConsoleSession(
            merchant_id=user.merchant_id,
            user_id=user.id,
            secret_hash=_hash_secret(secret),
            created_at=now,
            last_seen_at=now,
        )
    )
    session.flush()
    return secret


@dataclasses.dataclass(frozen=True)
class ConsoleIdentity:
    merchant_id: int
    user_id: int
    email: str


def resolve_console_session(session: Session, secret: str, *, now: datetime | None = None) -> ConsoleIdentity | None:
    if not secret or len(secret) > 100:
        return None
    now = now or utcnow()
    row = session.exec(
        select(ConsoleSession, MerchantUser)
        .join(MerchantUser, MerchantUser.id == ConsoleSession.user_id)
        .where(ConsoleSession.secret_hash == _hash_secret(secret))
    ).first()
    if row is None:
        return None
    console_session, user = row
    if (
        console_session.revoked_at is not None
        or now - console_session.last_seen_at > CONSOLE_SESSION_IDLE
        or now - console_session.created_at > CONSOLE_SESSION_MAX_AGE
        or user.merchant_id != console_session.merchant_id
    ):
        return None
    if now - console_session.last_seen_at > timedelta(minutes=1):
        console_session.last_seen_at = now
        session.add(console_session)
    return ConsoleIdentity(merchant_id=console_session.merchant_id, user_id=user.id, email=user.email)


def close_console_session(session: Session, secret: str, *, now: datetime | None = None) -> None:
    """Logout: the session stops working at once."""
    row = session.exec(select(ConsoleSession).where(ConsoleSession.secret_hash == _hash_secret(secret or ""))).first()
    if row is not None and row.revoked_at is None:
        row.revoked_at = now or utcnow()
        session.add(row)
