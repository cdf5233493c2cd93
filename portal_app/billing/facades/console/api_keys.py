"""Console API keys (Settings → API keys): list, create (the secret comes back once), revoke.

The page never holds a secret: creation is answered by an HTTP route (api/api_keys.py) straight to
the browser; Reflex handlers list and revoke only.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any

from portal_app import db
from portal_app.billing import api_keys
from portal_app.billing.facades.console.forms import ConsoleError, actor_for, parse_id

MAX_NAME_LENGTH = api_keys.MAX_NAME_LENGTH


@dataclasses.dataclass(frozen=True)
class ApiKeyRow:
    """A key as the settings page lists it (the prefix only, never the secret)."""

    key_id: int
    name: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


def _row(view: api_keys.ApiKeyView) -> ApiKeyRow:
    return ApiKeyRow(view.id, view.name, view.prefix, view.created_at, view.last_used_at, view.revoked_at)


def list_keys(*, merchant_id: int) -> list[ApiKeyRow]:
    """The merchant's keys, newest first, revoked ones included."""
    with db.session_scope() as session:
        return [_row(v) for v in api_keys.list_api_keys(session, merchant_id=merchant_id)]


def create_key(*, merchant_id: int, user_id: int, name: Any = "") -> tuple[ApiKeyRow, str]:
    """A new key and its secret, which nobody can read again (only its hash is stored)."""
    try:
        with db.session_scope() as session:
            view, secret = api_keys.create_api_key(
                session, merchant_id=merchant_id, name=name, actor=actor_for(user_id)
            )
    except api_keys.ApiKeyError as err:
        raise ConsoleError(err.message, field="name") from None
    return _row(view), secret


def revoke_key(*, merchant_id: int, user_id: int, key_id: Any) -> ApiKeyRow:
    """Revoke one of the merchant's keys; another merchant's id, or garbage, is NotFound."""
    key_id = parse_id(key_id, "API key")
    with db.session_scope() as session:
        view = api_keys.revoke_api_key(session, merchant_id=merchant_id, key_id=key_id, actor=actor_for(user_id))
    return _row(view)
