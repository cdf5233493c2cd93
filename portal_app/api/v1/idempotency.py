"""`Idempotency-Key` on every POST of the REST API (the rules: billing/api_idempotency.py).

The same key with the same request replays the stored answer (`Idempotent-Replayed: true`); with a
different request it is refused (400 `idempotency_key_reused`); while the first is still running a
duplicate gets 409 `idempotency_request_in_progress`. Invalid parameters are answered before a key
is claimed, so nothing is stored for them; a server error frees the key for a retry.
"""

from __future__ import annotations

import dataclasses

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from portal_app.api.v1.errors import ApiError
from portal_app.billing.api_idempotency import MAX_KEY_LENGTH, ClaimOutcome, is_valid_key, request_fingerprint
from portal_app.billing.facades import api as api_facade

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"


@dataclasses.dataclass(frozen=True)
class HeldClaim:
    claim_id: int | None
    replay: Response | None = None  # the stored answer, when this request was seen before


def header_key(request: Request) -> str | None:
    """The request's Idempotency-Key, None without one; 400 for a malformed one."""
    key = request.headers.get(HEADER)
    if key is None:
        return None
    if not is_valid_key(key.strip()):
        raise ApiError(
            400,
            "idempotency_key_invalid",
            f"The Idempotency-Key must be 1 to {MAX_KEY_LENGTH} printable ASCII characters (a UUID is typical).",
            type="idempotency_error",
        )
    return key.strip()


def claim(merchant_id: int, key: str, request: Request, raw_body: bytes) -> HeldClaim:
    fingerprint = request_fingerprint(request.method, request.url.path, request.url.query, raw_body)
    found = api_facade.claim_idempotency_key(merchant_id, key, fingerprint)
    if found.outcome is ClaimOutcome.MISMATCH:
        raise ApiError(
            400,
            "idempotency_key_reused",
            "This Idempotency-Key was already used for a different request: use a new key for a new request.",
            type="idempotency_error",
        )
    if found.outcome is ClaimOutcome.IN_FLIGHT:
        raise ApiError(
            409,
            "idempotency_request_in_progress",
            "A request with this Idempotency-Key is still being processed: retry in a moment.",
            type="idempotency_error",
        )
    if found.outcome is ClaimOutcome.REPLAY:
        replay = JSONResponse(
            found.body, status_code=found.status, headers={"Cache-Control": "no-store", REPLAYED_HEADER: "true"}
        )
        return HeldClaim(found.claim_id, replay)
    return HeldClaim(found.claim_id)


def store(merchant_id: int, held: HeldClaim, status: int, body: dict, portal_subscriber_id: int | None) -> None:
    """Keep the answer for replays (a server error is not kept: the key is free for a retry)."""
    if held.claim_id is None:
        return
    if status >= 500:
        api_facade.drop_idempotency_claim(merchant_id, held.claim_id)
        return
    api_facade.finish_idempotent_request(
        merchant_id, held.claim_id, status=status, body=body, portal_subscriber_id=portal_subscriber_id
    )


def drop(merchant_id: int, held: HeldClaim) -> None:
    if held.claim_id is not None:
        api_facade.drop_idempotency_claim(merchant_id, held.claim_id)
