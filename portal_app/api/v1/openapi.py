"""The OpenAPI 3.1 document of the REST API, built from the route table and the pydantic models
(their `$defs` become components/schemas), served at routes.API_V1_OPENAPI."""

from __future__ import annotations

import functools
from typing import Any

from pydantic import BaseModel

from portal_app.api.v1.endpoints import Endpoint, NoBody
from portal_app.api.v1.errors import ErrorObject
from portal_app.api.v1.idempotency import HEADER, REPLAYED_HEADER
from portal_app.billing.api_idempotency import MAX_KEY_LENGTH
from portal_app.billing.facades.console.forms import MAX_ID

_REF = "#/components/schemas/{model}"
_STATUS_TEXT = {
    200: "OK",
    400: "Invalid request (`param` names the parameter)",
    401: "No valid API key",
    404: "No such object",
    409: "The object's state refuses this, or a request with this Idempotency-Key is still running",
    429: "Too many requests with this key (see Retry-After)",
}
_ALWAYS = (401, 429)


class _Schemas:
    """components/schemas, filled as operations refer to models."""

    def __init__(self) -> None:
        self.components: dict[str, Any] = {}

    def ref(self, model: type[BaseModel], mode: str) -> dict[str, str]:
        schema = model.model_json_schema(ref_template=_REF, mode=mode)
        self.components.update(schema.pop("$defs", {}))
        self.components[model.__name__] = schema
        return {"$ref": _REF.format(model=model.__name__)}


def _without_null(schema: dict) -> dict:
    """A query parameter's schema: an optional value is absent, never null."""
    schema = {k: v for k, v in schema.items() if k not in ("default", "title")}
    options = [option for option in schema.pop("anyOf", []) if option.get("type") != "null"]
    if len(options) == 1:
        schema.update(options[0])
    elif options:
        schema["anyOf"] = options
    return schema


def _query_parameters(model: type[BaseModel]) -> list[dict]:
    schema = model.model_json_schema(mode="validation")
    required = set(schema.get("required", ()))
    return [
        {
            "name": name,
            "in": "query",
            "required": name in required,
            "schema": _without_null(prop),
            **({"description": prop["description"]} if "description" in prop else {}),
        }
        for name, prop in schema.get("properties", {}).items()
    ]


def _path_parameters(endpoint: Endpoint) -> list[dict]:
    return [
        {
            "name": name,
            "in": "path",
            "required": True,
            "schema": {"type": "integer", "minimum": 1, "maximum": MAX_ID - 1},
        }
        for name in endpoint.path_params
    ]


_IDEMPOTENCY_PARAMETER = {
    "name": HEADER,
    "in": "header",
    "required": False,
    "description": "Send a POST again with the same key to get the first answer back (keys live 24 h).",
    "schema": {"type": "string", "minLength": 1, "maxLength": MAX_KEY_LENGTH, "pattern": "^[!-~]+$"},
}


def _success(endpoint: Endpoint, schemas: _Schemas) -> dict:
    if endpoint.response is None:
        content = {endpoint.media_type: {"schema": {"type": "string", "format": "binary"}}}
    else:
        content = {"application/json": {"schema": schemas.ref(endpoint.response, "serialization")}}
    for media_type in endpoint.also:
        content[media_type] = {"schema": {"type": "string"}}
    answer: dict[str, Any] = {"description": _STATUS_TEXT[endpoint.status], "content": content}
    if endpoint.method == "POST":
        answer["headers"] = {
            REPLAYED_HEADER: {"description": "true when this is a replayed answer", "schema": {"type": "string"}}
        }
    return answer


def _operation(endpoint: Endpoint, schemas: _Schemas) -> dict:
    error = {"application/json": {"schema": schemas.ref(ErrorObject, "serialization")}}
    responses = {str(endpoint.status): _success(endpoint, schemas)}
    for status in sorted({*endpoint.errors, *_ALWAYS, *((400,) if endpoint.method == "POST" else ())}):
        responses[str(status)] = {"description": _STATUS_TEXT[status], "content": error}
    responses["429"]["headers"] = {"Retry-After": {"description": "Seconds to wait", "schema": {"type": "string"}}}
    parameters = _path_parameters(endpoint)
    if endpoint.query is not None:
        parameters += _query_parameters(endpoint.query)
    operation: dict[str, Any] = {
        "operationId": endpoint.operation_id,
        "summary": endpoint.summary,
        "tags": [endpoint.tag] if endpoint.tag else [],
        "parameters": parameters,
        "responses": responses,
    }
    if endpoint.method == "POST":
        operation["parameters"].append(_IDEMPOTENCY_PARAMETER)
        operation["responses"].setdefault("409", {"description": _STATUS_TEXT[409], "content": error})
        if endpoint.body is not None and endpoint.body is not NoBody:
            operation["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": schemas.ref(endpoint.body, "validation")}},
            }
    return operation


@functools.cache
def _cached(endpoints: tuple[Endpoint, ...]) -> dict:
    schemas = _Schemas()
    paths: dict[str, dict] = {}
    for endpoint in endpoints:
        paths.setdefault(endpoint.openapi_path, {})[endpoint.method.lower()] = _operation(endpoint, schemas)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Subscriber Portal API",
            "version": "1",
            "description": "The merchant REST API: Bearer API keys, JSON, cursor pagination, Idempotency-Key "
            "on every POST, Stripe-like errors.",
        },
        "paths": paths,
        "components": {
            "schemas": dict(sorted(schemas.components.items())),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "description": "An API key, spk_..."}},
        },
        "security": [{"bearer": []}],
    }


def openapi_document(endpoints: list[Endpoint]) -> dict:
    return _cached(tuple(endpoints))
