"""Cursor pagination: newest first, `limit` 1-100, `starting_after` the last id of a page,
`has_more` / `next_cursor` until the end; every object exactly once."""

from __future__ import annotations

import pytest

from portal_app import db, routes
from portal_app.billing.plans import create_plan
from tests.api_world import api_client, make_tenant
from tests.builders import make_subscriber


@pytest.fixture
def tenant(engine, gateway):
    tenant = make_tenant(engine, gateway, slug="fit", prefix="FIT")
    with db.session_scope(engine) as session:
        for i in range(24):
            create_plan(
                session,
                merchant_id=tenant.world.merchant_id,
                name=f"Plan {i}",
                amount_minor=100 + i,
                currency="USD",
                interval="month",
            )
    return tenant


@pytest.fixture
def client(engine, monkeypatch):
    return api_client(engine, monkeypatch)


def _pages(client, tenant, url: str, limit: int) -> list[dict]:
    pages, cursor = [], None
    while True:
        query = f"limit={limit}" + (f"&starting_after={cursor}" if cursor else "")
        body = client.get(f"{url}?{query}", headers=tenant.headers).json()
        pages.append(body)
        if not body["has_more"]:
            assert body["next_cursor"] is None
            return pages
        cursor = body["next_cursor"]
        assert cursor == body["data"][-1]["id"]


def test_pages_walk_every_object_once_newest_first(client, tenant):
    pages = _pages(client, tenant, routes.API_V1_PLANS, 10)
    assert [len(p["data"]) for p in pages] == [10, 10, 5]
    ids = [obj["id"] for page in pages for obj in page["data"]]
    assert ids == sorted(ids, reverse=True) and len(set(ids)) == 25
    assert all(p["object"] == "list" and p["url"] == routes.API_V1_PLANS for p in pages)


def test_default_and_largest_limits(client, tenant):
    body = client.get(routes.API_V1_PLANS, headers=tenant.headers).json()
    assert len(body["data"]) == 10 and body["has_more"] is True
    body = client.get(f"{routes.API_V1_PLANS}?limit=100", headers=tenant.headers).json()
    assert len(body["data"]) == 25 and body["has_more"] is False
    body = client.get(f"{routes.API_V1_PLANS}?limit=25", headers=tenant.headers).json()
    assert len(body["data"]) == 25 and body["has_more"] is False  # an exact fit has no next page


def test_a_cursor_past_the_end_or_of_nothing_is_an_empty_page(client, tenant):
    body = client.get(f"{routes.API_V1_PLANS}?starting_after=1", headers=tenant.headers).json()
    assert body["data"] == [] and body["has_more"] is False
    body = client.get(f"{routes.API_V1_PLANS}?starting_after=999999", headers=tenant.headers).json()
    assert len(body["data"]) == 10


def test_search_pages_too(client, engine, tenant):
    with db.session_scope(engine) as session:
        for i in range(12):
            make_subscriber(session, tenant.world.merchant_id, name=f"Grace {i}", email=f"grace{i}@example.com")
        make_subscriber(session, tenant.world.merchant_id, name="100% Real", email="under_score@example.com")
    body = client.get(f"{routes.API_V1_SUBSCRIBERS}?email_or_name=GRACE&limit=5", headers=tenant.headers).json()
    assert len(body["data"]) == 5 and body["has_more"]
    rest = client.get(
        f"{routes.API_V1_SUBSCRIBERS}?email_or_name=grace&limit=100&starting_after={body['next_cursor']}",
        headers=tenant.headers,
    ).json()
    assert len(rest["data"]) == 7 and not rest["has_more"]
    # LIKE wildcards in the query match themselves.
    for query, names in (
        ("100%", ["100% Real"]),
        ("%", ["100% Real"]),
        ("under_", ["100% Real"]),
        ("_", ["100% Real"]),
    ):
        found = client.get(routes.API_V1_SUBSCRIBERS, params={"email_or_name": query}, headers=tenant.headers).json()
        assert [s["name"] for s in found["data"]] == names, query
