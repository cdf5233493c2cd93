"""The REST API against its own OpenAPI document, fuzzed by schemathesis: every operation, with a
valid key, random parameters and bodies from the schema, and then the same case on merchant A's real
ids. No answer is a 5xx, every status is documented and every body matches its schema."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from starlette.testclient import TestClient

from portal_app import routes
from portal_app.api import build_api
from portal_app.api.v1 import ENDPOINTS
from tests.api_world import api_client, make_tenant

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


@pytest.fixture
def tenant(engine, gateway, monkeypatch):
    tenant = make_tenant(engine, gateway, slug="fit", prefix="FIT")
    make_tenant(engine, gateway, slug="gym", prefix="GYM")  # someone else's objects to stumble on
    api_client(engine, monkeypatch)  # the test engine and a rate limit the fuzzing stays under
    return tenant


# Loaded once from the app itself (the document needs no database); requests run on the test
# engine the `tenant` fixture installs.
schema = schemathesis.openapi.from_asgi(routes.API_V1_OPENAPI, build_api())


@schema.parametrize()
@settings(
    max_examples=20,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_every_operation_conforms_to_the_schema(case, tenant):
    case.call_and_validate(headers=tenant.headers, checks=CHECKS)
    if case.path_parameters:
        # The same request on real objects (random ids are nearly always 404).
        case.path_parameters = {name: tenant.ids[name] for name in case.path_parameters}
        case.call_and_validate(headers=tenant.headers, checks=CHECKS)


def test_the_document_covers_every_route_and_is_public(engine, monkeypatch):
    client = TestClient(build_api())
    resp = client.get(routes.API_V1_OPENAPI)
    assert resp.status_code == 200
    document = resp.json()
    operations = {(method.upper(), path) for path, ops in document["paths"].items() for method in ops}
    assert operations == {(e.method, e.openapi_path) for e in ENDPOINTS}
    assert document["components"]["securitySchemes"]["bearer"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "An API key, spk_...",
    }
    for name in ("PlanObject", "SubscriberObject", "SubscriptionObject", "InvoiceObject", "ErrorObject"):
        assert name in document["components"]["schemas"]
