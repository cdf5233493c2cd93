"""Merchant API keys: create (the secret is returned once), authenticate, list, revoke.

A key is `spk_` + 43 base64url characters (256 random bits). Only its SHA-256 is stored, with the
first characters as a visible prefix; a revoked key never authenticates again.
"""

from __future__ import annotations

import dataclasses
import hashlib
import secrets
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session, select

from portal_app.billing.audit import audit
from portal_app.billing.errors import BillingError
from portal_app.billing.tenancy import get_scoped
from portal_app.models import ApiKey, Merchant, utcnow

KEY_PREFIX = "spk_"
SHOWN_PREFIX_LENGTH = len(KEY_PREFIX) + 6  # "spk_AbC12x": enough to tell keys apart, useless to guess
MAX_KEY_LENGTH = 100
MAX_NAME_LENGTH = 80
LAST_USED_EVERY = timedelta(minutes=1)  # last_used_at is written at most this often


class ApiKeyError(BillingError):
    """A key that cannot be created as asked (bad name, unknown merchant)."""

    code = "invalid_request"


@dataclasses.dataclass(frozen=True)
class ApiKeyIdentity:
    """Who a valid key speaks for."""

    merchant_id: int
    key_id: int


@dataclasses.dataclass(frozen=True)
class ApiKeyView:
    """A key as the console lists it (never the secret)."""

    id: int
    name: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


def hash_key(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def clean_name(name: object) -> str:
    if name is None:
        return ""
    if not isinstance(name, str):
        raise ApiKeyError("The key's name must be text.")
    name = " ".join(name.split())
    if len(name) > MAX_NAME_LENGTH:
        raise ApiKeyError(f"The key's name can be at most {MAX_NAME_LENGTH} characters.")
    return name


def create_api_key(
    session: Session, *, merchant_id: int, name: object = "", actor: str, now: datetime | None = None
) -> tuple[ApiKeyView, str]:
    """A new key for the merchant: its view and the secret, which is never available again."""
    now = now or utcnow()
    if session.get(Merchant, merchant_id) is None:
        raise ApiKeyError("No such merchant.")
    secret = KEY_PREFIX + secrets.token_urlsafe(32)
    row = ApiKey(
        merchant_id=merchant_id,
        name=clean_name(name),
        prefix=secret[:SHOWN_PREFIX_LENGTH],
        secret_hash=hash_key(secret),
        created_by=actor,
        created_at=now,
    )
    session.add(row)
    session.flush()
    audit(
        session,
        merchant_id=merchant_id,
        subscriber_id=None,
        actor=actor,
        kind="api_key_created",
        detail={"key_id": row.id, "prefix": row.prefix, "name": row.name},
        now=now,
    )
    return _view(row), secret


def create_api_key_for_slug(session: Session, *, slug: str, name: object = "", now: datetime | None = None):
    """The CLI's way in: the merchant named by its slug (e.g. the demo's `acme`)."""
    merchant = session.exec(select(Merchant).where(Merchant.slug == slug)).first()
    if merchant is None:
        raise ApiKeyError(f"No merchant with the slug {slug!r}.")
    return create_api_key(session, merchant_id=merchant.id, name=name, actor="cli", now=now)


def authenticate(session: Session, secret: object, *, now: datetime | None = None) -> ApiKeyIdentity | None:
    """The merchant a live key speaks for, or None (unknown, revoked, malformed). Notes its last use."""
    if not isinstance(secret, str) or not secret.startswith(KEY_PREFIX) or len(secret) > MAX_KEY_LENGTH:
        return None
    row = session.exec(select(ApiKey).where(ApiKey.secret_hash == hash_key(secret))).first()
    if row is None or row.revoked_at is not None:
        return None
    now = now or utcnow()
    if row.last_used_at is None or now - row.last_used_at >= LAST_USED_EVERY:
        # A conditional UPDATE: concurrent requests of one key write it once, never block each other long.
        session.execute(
            sa.update(ApiKey.__table__)
            .where(ApiKey.__table__.c.id == row.id)
            .where(
                sa.or_(
                    ApiKey.__table__.c.last_used_at.is_(None), ApiKey.__table__.c.last_used_at < now - LAST_USED_EVERY
                )
            )
            .values(last_used_at=now)
        )
    return ApiKeyIdentity(merchant_id=row.merchant_id, key_id=row.id)


def list_api_keys(session: Session, *, merchant_id: int) -> list[ApiKeyView]:
    """The merchant's keys, newest first, revoked ones included (marked)."""
    rows = session.exec(
        select(ApiKey).where(ApiKey.merchant_id == merchant_id).order_by(ApiKey.created_at.desc(), ApiKey.id.desc())
    ).all()
    return [_view(row) for row in rows]


def revoke_api_key(
    session: Session, *, merchant_id: int, key_id: int, actor: str, now: datetime | None = None
) -> ApiKeyView:
    """Revoke one of the merchant's keys (NotFound for another merchant's). Revoking twice is a no-op."""
    row = get_scoped(session, ApiKey, key_id, merchant_id, for_update=True)
    if row.revoked_at is None:
        now = now or utcnow()
        row.revoked_at = now
        session.add(row)
        audit(
            session,
            merchant_id=merchant_id,
            subscriber_id=None,
            actor=actor,
            kind="api_key_revoked",
            detail={"key_id": row.id, "prefix": row.prefix, "name": row.name},
            now=now,
        )
        session.flush()
    return _view(row)


def _view(row: ApiKey) -> ApiKeyView:
    return ApiKeyView(row.id, row.name, row.prefix, row.created_at, row.last_used_at, row.revoked_at)
