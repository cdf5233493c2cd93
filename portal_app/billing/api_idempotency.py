"""Idempotency keys of the REST API, as Stripe's: a POST sent again under the same `Idempotency-Key`
gets the first answer back instead of acting twice.

A key belongs to one merchant and lives 24 hours. It is claimed (a row, committed) before the request
runs, so a concurrent duplicate finds it in flight (409) and a different request under the same key
is refused (400). The finished answer is stored (card numbers masked, though no object carries one);
a portal URL is a credential and never stored: the row says whose URL to re-derive on replay.
Answers to requests that never ran (invalid parameters, a server error) are not kept, so a retry can.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from portal_app.billing.card_numbers import mask_card_numbers
from portal_app.models import ApiIdempotencyKey

KEY_LIFETIME = timedelta(hours=24)
# A claim whose request never finished (a worker killed mid-request) is taken over after this.
ABANDONED_AFTER = timedelta(minutes=5)
MAX_KEY_LENGTH = 255


class ClaimOutcome(StrEnum):
    NEW = "new"  # run the request, then finish_claim() or drop_claim()
    REPLAY = "replay"  # answer `status` / `body` again
    MISMATCH = "mismatch"  # the key was used for a different request
    IN_FLIGHT = "in_flight"  # the first request with this key is still running


@dataclasses.dataclass(frozen=True)
class Claim:
    outcome: ClaimOutcome
    claim_id: int | None = None
    status: int | None = None
    body: dict[str, Any] | None = None
    portal_subscriber_id: int | None = None


def is_valid_key(key: str) -> bool:
    """1-255 printable ASCII characters (what Stripe accepts; a UUID is typical)."""
    return 0 < len(key) <= MAX_KEY_LENGTH and key.isascii() and key.isprintable()


def request_fingerprint(method: str, path: str, query: str, body: bytes) -> str:
    """What must match for a replay: method, path, query string and the exact body."""
    digest = hashlib.sha256()
    for part in (method.upper().encode(), path.encode(), query.encode(), body):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


def _existing(session: Session, merchant_id: int, key: str) -> ApiIdempotencyKey | None:
    return session.exec(
        select(ApiIdempotencyKey)
        .where(ApiIdempotencyKey.merchant_id == merchant_id, ApiIdempotencyKey.key == key)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).first()


def claim_key(session: Session, *, merchant_id: int, key: str, fingerprint: str, now: datetime) -> Claim:
    """Claim `key` for a request (the caller commits at once), or say why the request must not run."""
    session.execute(
        sa.delete(ApiIdempotencyKey.__table__).where(
            ApiIdempotencyKey.__table__.c.merchant_id == merchant_id,
            ApiIdempotencyKey.__table__.c.created_at <= now - KEY_LIFETIME,
        )
    )
    row = _existing(session, merchant_id, key)
    if row is None:
        try:
            with session.begin_nested():
                row = ApiIdempotencyKey(merchant_id=merchant_id, key=key, request_hash=fingerprint, created_at=now)
                session.add(row)
                session.flush()
            return Claim(ClaimOutcome.NEW, row.id)
        except IntegrityError:
            # A concurrent request inserted the key first (PostgreSQL waited for it to commit).
            row = _existing(session, merchant_id, key)
            if row is None:  # pragma: no cover - it committed, so it is there
                raise
    if row.request_hash != fingerprint:
        return Claim(ClaimOutcome.MISMATCH)
    if row.response_status is None:
        if row.created_at > now - ABANDONED_AFTER:
            return Claim(ClaimOutcome.IN_FLIGHT)
        row.created_at = now  # its request died with its worker: this one runs instead
        session.add(row)
        session.flush()
        return Claim(ClaimOutcome.NEW, row.id)
    return Claim(
        ClaimOutcome.REPLAY,
        row.id,
        status=row.response_status,
        body=json.loads(row.response_body or "{}"),
        portal_subscriber_id=row.portal_subscriber_id,
    )


def finish_claim(
    session: Session,
    claim_id: int,
    *,
    merchant_id: int,
    status: int,
    body: dict[str, Any],
    portal_subscriber_id: int | None = None,
) -> None:
    """Store the answer to replay. `body` must not carry a portal URL: pass whose it is instead."""
    if body.get("portal_url"):
        body = {**body, "portal_url": None}
    session.execute(
        sa.update(ApiIdempotencyKey.__table__)
        .where(
            ApiIdempotencyKey.__table__.c.id == claim_id,
            ApiIdempotencyKey.__table__.c.merchant_id == merchant_id,
        )
        .values(
            response_status=status,
            response_body=mask_card_numbers(json.dumps(body, separators=(",", ":"))),
            portal_subscriber_id=portal_subscriber_id,
        )
    )


def drop_claim(session: Session, claim_id: int, *, merchant_id: int) -> None:
    """Forget a claim whose request did not run (bad parameters, a server error): the key is free again."""
    session.execute(
        sa.delete(ApiIdempotencyKey.__table__).where(
            ApiIdempotencyKey.__table__.c.id == claim_id,
            ApiIdempotencyKey.__table__.c.merchant_id == merchant_id,
        )
    )
