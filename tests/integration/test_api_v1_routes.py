"""Adding a route to the REST API is a decorator and a list entry: it gets the key check, the rate
limit, parameter checks, Idempotency-Key on POST and its OpenAPI entry (here with a CSV variant, as
`GET /invoices?format=csv` will have)."""

from __future__ import annotations

from typing import Literal

import pytest
from pydantic import BaseModel, ConfigDict
from starlette.applications import Starlette
from starlette.testclient import TestClient

from portal_app.api.v1 import ENDPOINTS, api_v1_routes
from portal_app.api.v1.endpoints import ApiCall, Download, get, post
from portal_app.api.v1.openapi import openapi_document
from portal_app.api.v1.pagination import ListQuery, list_model
from portal_app.billing.facades import api as api_facade
from portal_app.billing.objects import PlanObject
from tests.api_world import api_client, make_tenant

CALLS: list[ApiCall] = []


class PlanExportQuery(ListQuery):
    format: Literal["json", "csv"] | None = None


class Note(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    text: str


@get(
    "/api/v1/test_plans",
    summary="Plans, or CSV",
    response=list_model(PlanObject, "TestPlanList"),
    query=PlanExportQuery,
    also=("text/csv",),
    errors=(400,),
)
def export_plans(call: ApiCall):
    page = api_facade.list_plans(call.merchant_id, **call.query.page())
    if call.query.format == "csv":
        rows = "\n".join(f"{p.id},{p.name}" for p in page.data)
        return Download("plans.csv", f"id,name\n{rows}\n".encode(), media_type="text/csv")
    return page


@post("/api/v1/test_notes", summary="Count a call", response=PlanObject, body=Note, errors=(400, 404))
def add_note(call: ApiCall):
    CALLS.append(call)
    return api_facade.get_plan(call.merchant_id, 1)


@pytest.fixture
def tenant(engine, gateway):
    return make_tenant(engine, gateway, slug="fit", prefix="FIT")


@pytest.fixture
def client(engine, monkeypatch):
    api_client(engine, monkeypatch)
    return TestClient(Starlette(routes=api_v1_routes([*ENDPOINTS, export_plans, add_note])))


def test_a_new_route_gets_auth_params_formats_and_its_schema(client, tenant):
    assert client.get("/api/v1/test_plans").status_code == 401
    assert client.get("/api/v1/test_plans?format=xml", headers=tenant.headers).json()["error"]["param"] == "format"
    assert client.get("/api/v1/test_plans", headers=tenant.headers).json()["object"] == "list"
    csv = client.get("/api/v1/test_plans?format=csv", headers=tenant.headers)
    assert csv.headers["content-type"].startswith("text/csv") and csv.text.startswith("id,name\n1,")
    assert csv.headers["cache-control"] == "no-store"
    document = openapi_document([*ENDPOINTS, export_plans, add_note])
    content = document["paths"]["/api/v1/test_plans"]["get"]["responses"]["200"]["content"]
    assert set(content) == {"application/json", "text/csv"}
    assert "Note" in document["components"]["schemas"]


def test_a_new_post_is_idempotent(client, tenant):
    CALLS.clear()
    headers = {**tenant.headers, "Idempotency-Key": "n1"}
    first = client.post("/api/v1/test_notes", headers=headers, json={"text": "hi"})
    again = client.post("/api/v1/test_notes", headers=headers, json={"text": "hi"})
    assert first.status_code == again.status_code == 200 and again.headers["idempotent-replayed"] == "true"
    assert len(CALLS) == 1 and CALLS[0].body == Note(text="hi") and CALLS[0].key_id == tenant.key_id
