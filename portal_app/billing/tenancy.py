"""Merchant scoping: every service loads rows through `get_scoped`, so an id that belongs to another
merchant behaves exactly like an id that does not exist."""

from __future__ import annotations

from typing import Any, TypeVar

from sqlmodel import Session, select

from portal_app.billing.errors import NotFound

T = TypeVar("T")


def get_scoped(session: Session, model: type[T], row_id: int, merchant_id: int, *, for_update: bool = False) -> T:
    """Load one row of `model` owned by `merchant_id`, or raise NotFound.

    for_update locks the row on PostgreSQL (SQLite's BEGIN IMMEDIATE already serializes writers).
    """
    if row_id is None or merchant_id is None:
        raise NotFound(f"{model.__name__} not found")
    stmt = select(model).where(model.id == row_id, model.merchant_id == merchant_id)
    if for_update:
        stmt = stmt.with_for_update()
        # Re-read even if the identity map already holds the row: we want the locked version.
        stmt = stmt.execution_options(populate_existing=True)
    row = session.exec(stmt).first()
    if row is None:
        raise NotFound(f"{model.__name__} not found")
    return row


def row_id(obj_or_id: Any) -> int:
    """Accept a row or its id (services take either)."""
    return obj_or_id if isinstance(obj_or_id, int) else obj_or_id.id
