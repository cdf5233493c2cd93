"""GET /api/health: 200 when the database answers, 503 (degraded) when it does not."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from portal_app import db


def health(_request: Request) -> Response:
    db_ok = db.ping()
    return JSONResponse({"status": "ok" if db_ok else "degraded", "db": db_ok}, status_code=200 if db_ok else 503)
