"""Cursor pagination, as Stripe's: `limit` (1-100, default 10) and `starting_after` (the last id of
the previous page); newest first. A list answers `{"object": "list", "data", "has_more",
"next_cursor", "url"}`: pass `next_cursor` as `starting_after` while `has_more`."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model

from portal_app.billing.facades.api import MAX_PAGE_SIZE, ObjectPage
from portal_app.billing.facades.console.forms import MAX_ID

# Every id in a path, a query or a body: a positive integer below the largest row id we accept.
ObjectId = Annotated[int, Field(ge=1, le=MAX_ID - 1)]


class ListQuery(BaseModel):
    """The query parameters every list takes (resource lists add their filters)."""

    model_config = ConfigDict(extra="forbid")
    limit: int = Field(10, ge=1, le=MAX_PAGE_SIZE, description="How many objects, 1 to 100.")
    starting_after: ObjectId | None = Field(None, description="The `next_cursor` of the previous page.")

    def page(self) -> dict:
        return {"limit": self.limit, "starting_after": self.starting_after}


def list_model(item: type[BaseModel], name: str) -> type[BaseModel]:
    """The list envelope of one kind of object, named for the OpenAPI schema (e.g. `PlanList`)."""
    return create_model(
        name,
        __config__=ConfigDict(extra="forbid"),
        object=(Literal["list"], "list"),
        data=(list[item], ...),
        has_more=(bool, ...),
        next_cursor=(ObjectId | None, None),
        url=(str, ...),
    )


def list_body(page: ObjectPage, url: str) -> dict:
    return {
        "object": "list",
        "data": [obj.model_dump(mode="json") for obj in page.data],
        "has_more": page.has_more,
        "next_cursor": page.next_cursor,
        "url": url,
    }
