"""The REST API's route table: an Endpoint per operation (method, path, handler, the pydantic models
of its query, body and answer), made by the `@get(...)` / `@post(...)` decorators of the resource
modules. One table serves the Starlette routes (api/v1/__init__.py) and the OpenAPI schema
(api/v1/openapi.py), so a route and its documentation cannot drift apart.

Every request: the Bearer key (401), its rate limit (429), the path ids (404), the query and the
body checked by their models (400 naming `param`), the Idempotency-Key of a POST, then the handler,
a plain function that calls the API facade (billing/facades/api.py) in a worker thread.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import Callable, Iterator
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from portal_app.api.v1 import idempotency
from portal_app.api.v1.auth import identify
from portal_app.api.v1.errors import ApiError, error_response, from_billing_error, invalid_param, not_found
from portal_app.api.v1.pagination import list_body
from portal_app.api.v1.throttle import spend
from portal_app.billing.errors import BillingError
from portal_app.billing.facades.api import ObjectPage
from portal_app.billing.facades.console.forms import MAX_ID
from portal_app.billing.objects import ApiObject, PortalSessionObject, SubscriberObject

log = logging.getLogger(__name__)

_PATH_PARAM = re.compile(r"{(\w+)(?::\w+)?}")
MAX_BODY_BYTES = 64 * 1024
NO_STORE = {"Cache-Control": "no-store"}


class NoBody(BaseModel):
    """A POST that takes no parameters: an empty body or `{}`."""

    model_config = ConfigDict(extra="forbid")


@dataclasses.dataclass(frozen=True)
class ApiCall:
    """What a handler gets: who calls, the path's ids (by name) and the checked query and body."""

    merchant_id: int
    key_id: int
    ids: dict[str, int]
    query: Any = None
    body: Any = None
    url: str = ""


@dataclasses.dataclass(frozen=True)
class Download:
    """A file answer: the invoice PDF, or another format of a list (its type in Endpoint.also),
    streamed when `data` is an iterator of text chunks (the CSV of a whole list)."""

    filename: str
    data: bytes | Iterator[str]
    media_type: str | None = None  # None: the endpoint's media_type


@dataclasses.dataclass(frozen=True)
class Endpoint:
    method: Literal["GET", "POST", "DELETE"]
    path: str  # a routes.py path; every {name} in it is an object id
    handler: Callable[[ApiCall], Any]
    summary: str
    response: type[BaseModel] | None  # None: a file of `media_type`
    query: type[BaseModel] | None = None
    body: type[BaseModel] | None = None
    errors: tuple[int, ...] = ()  # besides 401 and 429, answered by every operation
    media_type: str = "application/json"
    also: tuple[str, ...] = ()  # other media types a 200 may have (e.g. "text/csv" for ?format=csv)
    status: int = 200
    tag: str = ""

    @property
    def path_params(self) -> list[str]:
        return _PATH_PARAM.findall(self.path)

    @property
    def openapi_path(self) -> str:
        return _PATH_PARAM.sub(r"{\1}", self.path)

    @property
    def operation_id(self) -> str:
        return self.handler.__name__


def _endpoint(method: Literal["GET", "POST", "DELETE"], path: str, **spec) -> Callable[[Callable], Endpoint]:
    def wrap(handler: Callable[[ApiCall], Any]) -> Endpoint:
        return Endpoint(method=method, path=path, handler=handler, **spec)

    return wrap


def get(path: str, *, summary: str, response: type[BaseModel] | None, **spec) -> Callable[[Callable], Endpoint]:
    """`@get(routes.API_V1_X, summary=..., response=Model, query=QueryModel)` over `def handler(call)`."""
    return _endpoint("GET", path, summary=summary, response=response, **spec)


def post(path: str, *, summary: str, response: type[BaseModel], **spec) -> Callable[[Callable], Endpoint]:
    """`@post(routes.API_V1_X, summary=..., response=Model, body=BodyModel)`; without `body` the POST
    takes none. Every POST honours `Idempotency-Key`."""
    spec.setdefault("body", NoBody)
    return _endpoint("POST", path, summary=summary, response=response, **spec)


def delete(path: str, *, summary: str, response: type[BaseModel], **spec) -> Callable[[Callable], Endpoint]:
    """`@delete(routes.API_V1_X, summary=..., response=Model)`: takes no body; deleting twice is a 404."""
    return _endpoint("DELETE", path, summary=summary, response=response, **spec)


# --- checking the request -----------------------------------------------------------------------


def _path_ids(endpoint: Endpoint, request: Request) -> dict[str, int]:
    ids = {}
    for name in endpoint.path_params:
        value = str(request.path_params.get(name, ""))
        if not (value.isascii() and value.isdigit() and len(value) <= 19 and 0 < int(value) < MAX_ID):
            raise not_found()
        ids[name] = int(value)
    return ids


def _validation_error(err: ValidationError, *, json_body: bool) -> ApiError:
    first = err.errors(include_url=False)[0]
    if first["type"] == "json_invalid":
        return ApiError(400, "invalid_json", "The request body is not valid JSON.")
    loc = [str(part) for part in first.get("loc", ())]
    param = ".".join(loc) if loc else None
    if first["type"] == "missing":
        return ApiError(400, "parameter_missing", f"Missing required parameter: {param}.", param=param)
    if first["type"] == "extra_forbidden":
        return ApiError(400, "parameter_unknown", f"Received unknown parameter: {param}.", param=param)
    if json_body and first["type"] in ("model_type", "dict_type"):
        return ApiError(400, "invalid_json", "The request body must be a JSON object.")
    return ApiError(400, "parameter_invalid", f"Invalid {param}: {first['msg']}.", param=param)


def _query(endpoint: Endpoint, request: Request) -> Any:
    items = request.query_params.multi_items()
    names = [name for name, _ in items]
    if endpoint.query is None:
        if items:
            raise invalid_param(names[0], f"Received unknown parameter: {names[0]}.", "parameter_unknown")
        return None
    if duplicate := next((n for n in names if names.count(n) > 1), None):
        raise invalid_param(duplicate, f"Send {duplicate} once.")
    try:
        return endpoint.query.model_validate(dict(items))
    except ValidationError as err:
        raise _validation_error(err, json_body=False) from None


def _body(endpoint: Endpoint, raw: bytes) -> Any:
    if endpoint.body is None:
        return None
    if len(raw) > MAX_BODY_BYTES:
        raise ApiError(400, "request_too_large", "The request body is too large.")
    if not raw.strip():
        raw = b"{}"
    try:
        return endpoint.body.model_validate_json(raw)
    except ValidationError as err:
        raise _validation_error(err, json_body=True) from None


# --- answering ----------------------------------------------------------------------------------


def json_response(body: dict, status: int = 200, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(body, status_code=status, headers={**NO_STORE, **(headers or {})})


def _render(endpoint: Endpoint, result: Any, url: str) -> tuple[int, dict | Download, int | None, dict | None]:
    """(status, JSON body or file, the subscriber whose portal URL the body holds, the body kept for
    idempotent replays: credentials left out, a subscriber's portal URL re-derived on replay)."""
    if isinstance(result, Download):
        return endpoint.status, result, None, None
    if isinstance(result, ObjectPage):
        body = list_body(result, url)
        return endpoint.status, body, None, body
    if isinstance(result, ApiObject):
        body = result.model_dump(mode="json")
        portal = result.id if isinstance(result, SubscriberObject) and result.portal_url else None
        # A portal session's URL opens a portal once: it is never written down, a replay answers null.
        kept = {**body, "url": None} if isinstance(result, PortalSessionObject) else body
        return endpoint.status, body, portal, kept
    raise TypeError(f"{endpoint.operation_id} answered {type(result).__name__}")


def _file_response(download: Download, media_type: str) -> Response:
    headers = {**NO_STORE, "Content-Disposition": f'attachment; filename="{download.filename}"'}
    media_type = download.media_type or media_type
    if isinstance(download.data, bytes):
        return Response(download.data, media_type=media_type, headers=headers)
    # Starlette iterates a plain iterator in a worker thread: each batch's query never blocks the loop.
    return StreamingResponse(download.data, media_type=media_type, headers=headers)


async def _run(endpoint: Endpoint, request: Request) -> Response:
    identity = await run_in_threadpool(identify, request)
    spend(identity.key_id)
    ids = _path_ids(endpoint, request)
    query = _query(endpoint, request)
    raw = await request.body() if endpoint.method == "POST" else b""
    body = _body(endpoint, raw)
    call = ApiCall(identity.merchant_id, identity.key_id, ids, query, body, request.url.path)

    claim = None
    if endpoint.method == "POST" and (key := idempotency.header_key(request)) is not None:
        claim = await run_in_threadpool(idempotency.claim, identity.merchant_id, key, request, raw)
        if claim.replay is not None:
            return claim.replay
    try:
        result = await run_in_threadpool(endpoint.handler, call)
        status, answer, portal_subscriber_id, kept = _render(endpoint, result, request.url.path)
    except BillingError as err:
        api_err = from_billing_error(err)
        status, answer, portal_subscriber_id = api_err.status, api_err.body(), None
        kept = answer
    except BaseException:
        if claim is not None:
            await run_in_threadpool(idempotency.drop, identity.merchant_id, claim)
        raise
    if isinstance(answer, Download):
        return _file_response(answer, endpoint.media_type)
    if claim is not None:
        await run_in_threadpool(idempotency.store, identity.merchant_id, claim, status, kept, portal_subscriber_id)
    return json_response(answer, status)


def dispatcher(endpoints: list[Endpoint]) -> Callable[[Request], Any]:
    """One Starlette endpoint for every operation on one path (405 with Allow for other methods)."""
    by_method = {e.method: e for e in endpoints}
    allow = ", ".join(sorted(by_method))

    async def answer(request: Request) -> Response:
        endpoint = by_method.get(request.method)
        try:
            if endpoint is None:
                raise ApiError(405, "method_not_allowed", f"Use {allow} here.", headers={"Allow": allow})
            return await _run(endpoint, request)
        except ApiError as err:
            return error_response(err)
        except Exception:
            log.exception("API %s %s failed", request.method, endpoint.operation_id if endpoint else "?")
            return json_response(
                {"error": {"type": "api_error", "code": "internal_error", "message": "Something went wrong."}}, 500
            )

    answer.__name__ = f"api_v1_{endpoints[0].operation_id}"
    return answer


async def unknown_url(request: Request) -> Response:
    """Any other /api/v1 URL: a JSON 404, as every answer of the API is JSON."""
    return error_response(ApiError(404, "resource_missing", "Unrecognized request URL."))
