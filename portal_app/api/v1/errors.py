"""The REST API's errors, as Stripe's: `{"error": {"type", "code", "message", "param"?}}` and a status.

400 invalid request (a parameter: `param` names it), 401 no valid key, 404 no such object (another
merchant's id reads the same), 405 method not allowed, 409 the object's state refuses it (or an
idempotent request is still running), 429 too many requests. Never a 500 from a caller's input.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict
from starlette.responses import JSONResponse

from portal_app.billing.errors import BillingError, NotAllowed, NotFound

ErrorType = Literal[
    "invalid_request_error", "authentication_error", "idempotency_error", "rate_limit_error", "api_error"
]


class ErrorDetail(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: ErrorType
    code: str
    message: str
    param: str | None = None


class ErrorObject(BaseModel):
    """Every error answer of the API."""

    model_config = ConfigDict(extra="forbid")
    error: ErrorDetail


class ApiError(Exception):
    """An error answer, raised anywhere below a route and written by `error_response`."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        type: ErrorType = "invalid_request_error",
        param: str | None = None,
        headers: dict[str, str] | None = None,
    ):
        super().__init__(message)
        self.status, self.code, self.message, self.type, self.param = status, code, message, type, param
        self.headers = headers or {}

    def body(self) -> dict:
        detail = ErrorDetail(type=self.type, code=self.code, message=self.message, param=self.param)
        return ErrorObject(error=detail).model_dump(mode="json", exclude_none=True)


def error_response(err: ApiError) -> JSONResponse:
    return JSONResponse(err.body(), status_code=err.status, headers={"Cache-Control": "no-store", **err.headers})


def not_found(what: str = "object") -> ApiError:
    return ApiError(404, "resource_missing", f"No such {what}.")


def invalid_param(param: str, message: str, code: str = "parameter_invalid") -> ApiError:
    return ApiError(400, code, message, param=param)


def from_billing_error(err: BillingError) -> ApiError:
    """A domain failure as an API error: not found, not allowed in this state, or a bad value."""
    if isinstance(err, NotFound):
        return ApiError(404, "resource_missing", err.message)
    if isinstance(err, NotAllowed):
        return ApiError(409, err.code, err.message)
    return ApiError(400, err.code, err.message, param=err.field)
