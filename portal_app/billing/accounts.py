"""Merchant accounts: sign-up, team users and password login (sessions live in sessions.py).

Passwords: Argon2id with OWASP's minimum (19 MiB, 2 iterations, 1 lane). Unknown email and wrong
password get the same answer and take the same time; every login rotates the console session.
"""

from __future__ import annotations

import contextlib
import re
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlmodel import Session, select

from portal_app.billing.audit import audit
from portal_app.billing.sessions import (
    CONSOLE_SESSION,
    open_console_session,
    resolve_console_session,
    revoke_console_sessions,
    rotate_console_session,
    secret_from_cookie_header,
)
from portal_app.db import session_scope
from portal_app.models import Merchant, MerchantUser

password_hasher = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)
# Verified against for unknown emails, so both failures cost one Argon2 computation.
_DUMMY_HASH = password_hasher.hash(secrets.token_urlsafe(16))

MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 256
_EMAIL_RE = re.compile(r"^[^@\s<>\"']{1,64}@[A-Za-z0-9.-]{1,190}\.[A-Za-z]{2,24}$")


class AccountError(ValueError):
    """A user-facing refusal (the message is safe to show)."""


class PasswordChangeRefused(AccountError):
    """Why a password change was refused, as a code the settings page words:
    "signed_out", "current" (wrong current password), "mismatch", "weak"."""

    def __init__(self, code: str):
        super().__init__(code)
        self.code = code


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


def spend_password_check(password: str) -> None:
    """The Argon2 work of a password check, for a refused login that checks nothing (throttled), so
    that every failure takes the same time."""
    with contextlib.suppress(VerificationError, InvalidHashError):
        password_hasher.verify(_DUMMY_HASH, (password or "")[:MAX_PASSWORD_LENGTH])


def sign_in(*, email: str, password: str, cookie_header: str) -> str | None:
    """A password login in its own transaction: the new console session secret, or None.

    The browser's previous console session (from its Cookie header) ends here.
    """
    with session_scope() as session:
        user = authenticate(session, email=email, password=password)
        if user is None:
            return None
        return rotate_console_session(session, secret_from_cookie_header(cookie_header, CONSOLE_SESSION), user)


def sign_up_and_sign_in(*, company_name: str, email: str, password: str) -> str:
    """A new merchant and its owner, signed in; the console session secret. Raises AccountError."""
    with session_scope() as session:
        user = sign_up(session, company_name=company_name, email=email, password=password)
        return open_console_session(session, user)


def change_password(*, cookie_header: str, current_password: str, new_password: str, repeated_password: str) -> str:
    """The signed-in user's new password (same rules as sign-up). Every console session of the user
    ends, on every browser, and this browser gets a fresh one: its cookie secret. Raises
    PasswordChangeRefused."""
    with session_scope() as session:
        identity = resolve_console_session(session, secret_from_cookie_header(cookie_header, CONSOLE_SESSION))
        user = session.get(MerchantUser, identity.user_id) if identity is not None else None
        if user is None:
            raise PasswordChangeRefused("signed_out")
        try:
            password_hasher.verify(user.password_hash, (current_password or "")[:MAX_PASSWORD_LENGTH])
        except (VerificationError, InvalidHashError):
            raise PasswordChangeRefused("current") from None
        if new_password != repeated_password:
            raise PasswordChangeRefused("mismatch")
        try:
            user.password_hash = hash_password(new_password)
        except AccountError:
            raise PasswordChangeRefused("weak") from None
        session.add(user)
        revoke_console_sessions(session, user.id)
        audit(
            session, merchant_id=user.merchant_id, subscriber_id=None, actor=f"user:{user.id}", kind="password_changed"
        )
        return open_console_session(session, user)
