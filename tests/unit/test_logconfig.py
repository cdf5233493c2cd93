"""The one logging configuration: time, level, logger and request id on every line, JSON lines for
log shippers, and the masking filter on every handler, so even a record that never went through the
record factory (logging.makeLogRecord, a library's own records) prints masked."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import os
import re

import pytest
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from portal_app import logconfig
from portal_app.api.request_id import RequestIdMiddleware
from portal_app.logredact import RedactingFilter

CARD = "4242 4242 4242 4242"
TOKEN = "A" * 20 + "b" * 23  # a portal token's shape (43 base64url characters)
TEXT_LINE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (DEBUG|INFO|WARNING|ERROR|CRITICAL) +(\S+) \[(\S+)\] ")


@pytest.fixture
def configured():
    """Install the configuration with its handler writing to a buffer; restore logging afterwards."""
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    buffer = io.StringIO()

    def install(level="INFO", log_format="text"):
        logconfig.install(level, log_format)
        handler = root.handlers[0]
        handler.setStream(buffer)
        return buffer

    yield install
    root.handlers[:] = saved[0]
    root.setLevel(saved[1])


def _bypass_record(**extra) -> logging.LogRecord:
    """A record that never went through the (masking) record factory."""
    return logging.makeLogRecord(
        {
            "name": "thirdparty.lib",
            "levelno": logging.WARNING,
            "levelname": "WARNING",
            "msg": "card %s session portal_session=%s token %s",
            "args": (CARD, "s3cr3t-session-value", TOKEN),
            **extra,
        }
    )


def test_every_handler_of_the_configuration_masks(configured):
    configured()
    handlers = logging.getLogger().handlers
    assert handlers and all(any(isinstance(f, RedactingFilter) for f in h.filters) for h in handlers)


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_a_record_made_outside_the_factory_is_masked_in_both_formats(configured, log_format):
    out = configured(log_format=log_format)
    try:
        raise RuntimeError(f"declined {CARD}")
    except RuntimeError:
        import sys

        exc_info = sys.exc_info()
    logging.getLogger().handle(_bypass_record(exc_info=exc_info))
    text = out.getvalue()
    assert "4242 4242 4242 4242" not in text and "s3cr3t-session-value" not in text and TOKEN not in text
    assert "****4242" in text and "[redacted]" in text


def test_a_handler_made_by_another_library_masks_too(configured):
    """A library that attaches its own handler (granian, uvicorn do) gets the filter as well."""
    library = logging.getLogger("some.library")
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    library.addHandler(handler)
    library.propagate = False
    try:
        configured()
        library.handle(_bypass_record(name="some.library"))
        assert CARD not in buffer.getvalue() and "****4242" in buffer.getvalue()
    finally:
        library.removeHandler(handler)
        library.propagate = True


def test_text_lines_carry_time_level_logger_and_request_id(configured):
    out = configured()
    log = logging.getLogger("portal_app.background")
    log.info("billing run: %s", "renewed 3")
    token = logconfig.set_request_id("abc123def456")
    try:
        log.warning("inside a request")
    finally:
        logconfig.reset_request_id(token)
    first, second = out.getvalue().splitlines()
    assert TEXT_LINE.match(first).groups() == ("INFO", "portal_app.background", "-")
    assert first.endswith("billing run: renewed 3")
    assert TEXT_LINE.match(second).groups() == ("WARNING", "portal_app.background", "abc123def456")


def test_json_lines_have_the_documented_fields(configured):
    out = configured(log_format="json")
    log = logging.getLogger("portal_app.billing.payments.charging")
    log.info('line with "quotes" and\nnewline')
    try:
        raise ZeroDivisionError("boom")
    except ZeroDivisionError:
        log.exception("failed")
    lines = out.getvalue().splitlines()
    assert len(lines) == 2  # one object per line, whatever the message holds
    first, second = (json.loads(line) for line in lines)
    assert set(first) == {"time", "level", "logger", "message", "request_id"}
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", first["time"])
    assert (first["level"], first["logger"], first["request_id"]) == ("INFO", log.name, "-")
    assert first["message"] == 'line with "quotes" and\nnewline'
    assert second["level"] == "ERROR" and "ZeroDivisionError" in second["exception"]


def test_log_level_filters_and_chatty_libraries_wait_for_warning(configured):
    out = configured(level="WARNING")
    logging.getLogger("portal_app.x").info("hidden")
    logging.getLogger("portal_app.x").warning("shown")
    assert "hidden" not in out.getvalue() and "shown" in out.getvalue()
    out = configured(level="INFO")
    logging.getLogger("stripe").info("Request to Stripe api")
    logging.getLogger("fontTools.subset").info("glyf subsetted")  # every invoice PDF, at INFO
    assert "Stripe api" not in out.getvalue() and "subsetted" not in out.getvalue()
    out = configured(level="DEBUG")
    logging.getLogger("stripe").debug("Request to Stripe api")
    assert "Stripe api" in out.getvalue()


def test_server_loggers_are_printed_once_through_the_one_handler(configured):
    """granian and uvicorn attach handlers of their own (no time, propagate off); in a worker they are
    moved onto ours: each record once, in our format."""
    out = configured()
    theirs = io.StringIO()
    for name in ("_granian", "uvicorn.error", "reflex"):
        logger = logging.getLogger(name)
        logger.addHandler(logging.StreamHandler(theirs))
        logger.propagate = False
    try:
        asyncio.run(logconfig.worker_logging())
        for name in ("_granian", "uvicorn.error", "reflex"):
            logging.getLogger(name).warning("hello from %s", name)
        lines = out.getvalue().splitlines()
        assert theirs.getvalue() == ""
        assert [TEXT_LINE.match(line).group(2) for line in lines] == ["_granian", "uvicorn.error", "reflex"]
    finally:
        for name in ("_granian", "uvicorn.error", "reflex"):
            logging.getLogger(name).handlers.clear()
            logging.getLogger(name).propagate = True


def test_reflex_never_takes_its_logger_back_once_the_app_has_it(configured, monkeypatch):
    """Under its CLI Reflex re-attaches its Rich sink (and cuts propagation) whenever a Config is made,
    minutes into serving; the server's Reflex warnings then came out unformatted. In library mode it
    leaves the logger to the app."""
    from reflex_base.utils import log as reflex_log

    reflex_logger = logging.getLogger("reflex")
    monkeypatch.setenv(logconfig.REFLEX_MANAGED_LOGGING, "true")
    try:
        reflex_log.ensure_configured()  # control: what a Config made under the CLI does
        assert not reflex_logger.propagate and reflex_logger.handlers
        out = configured()
        logconfig.leave_reflex_logging_to_the_app()
        reflex_log.ensure_configured()  # a Config made later, in a worker
        assert os.environ[logconfig.REFLEX_MANAGED_LOGGING] == "false"
        assert reflex_logger.propagate and not reflex_logger.handlers
        logging.getLogger("reflex.app").warning("no associated token")
        (line,) = out.getvalue().splitlines()
        assert TEXT_LINE.match(line).group(2) == "reflex.app"
    finally:
        reflex_log._reset()


def _app_logging_inside_requests() -> Starlette:
    async def endpoint(request):
        logging.getLogger("portal_app.api.test").warning("serving")
        return PlainTextResponse("ok")

    app = Starlette(routes=[Route("/x", endpoint)])
    app.add_middleware(RequestIdMiddleware)
    return app


def test_each_http_request_gets_an_id_in_its_log_lines_and_response(configured):
    out = configured()
    with TestClient(_app_logging_inside_requests()) as client:
        first = client.get("/x")
        second = client.get("/x", headers={"X-Request-ID": "0123456789abcdef0123456789abcdef"})
        hostile = client.get("/x", headers={"X-Request-ID": "bad id\n2026 forged line"})
    ids = [TEXT_LINE.match(line).group(3) for line in out.getvalue().splitlines()]
    assert ids[0] == first.headers["x-request-id"] and re.fullmatch(r"[0-9a-f]{12}", ids[0])
    assert ids[1] == second.headers["x-request-id"] == "0123456789abcdef0123456789abcdef"  # the proxy's id
    assert ids[2] == hostile.headers["x-request-id"] and "forged" not in out.getvalue()
    assert len(set(ids)) == 3
    assert logconfig.request_id.get() == "-"  # nothing leaks out of a request


def test_the_api_mounts_the_request_id_middleware():
    from portal_app.api import build_api

    with TestClient(build_api()) as client:
        response = client.get("/api/health")
    assert re.fullmatch(r"[0-9a-f]{12}", response.headers["x-request-id"])


def test_a_mask_that_eats_a_placeholder_does_not_lose_the_line():
    """'Cookie: %s' masks to 'Cookie: [redacted]': formatted with its argument it raised and the
    line was dropped ("--- Logging error ---"); now the whole message is formatted, then masked."""
    from portal_app.logredact import redact_record

    record = redact_record(logging.makeLogRecord({"msg": "Cookie: %s (%d bytes)", "args": ("portal_session=x", 9)}))
    assert record.getMessage() == "Cookie: [redacted]"
    record = redact_record(logging.makeLogRecord({"msg": "card 4242424242424242 for %s", "args": ("Ann",)}))
    assert record.getMessage() == "card ****4242 for Ann"


def test_each_reflex_event_is_tagged_with_its_txid_never_the_client_token():
    from reflex_base.event import Event
    from reflex_base.event.context import EventContext

    from portal_app.event_ids import EventLogIdMiddleware

    client_token = "7c1e5a0e-1234-4cde-9f00-aabbccddeeff"
    seen = []

    async def one_event():
        ctx = EventContext(token=client_token, state_manager=None, enqueue_impl=None)
        EventContext.set(ctx)
        await EventLogIdMiddleware().preprocess(app=None, state=None, event=Event(name="x.y", payload={}))
        seen.append((ctx.txid, logconfig.request_id.get()))

    async def two_events():
        await asyncio.gather(asyncio.create_task(one_event()), asyncio.create_task(one_event()))

    asyncio.run(two_events())
    (txid_a, id_a), (txid_b, id_b) = seen
    assert (id_a, id_b) == (txid_a, txid_b) and id_a != id_b
    assert re.fullmatch(r"[0-9a-f]{12}", id_a) and client_token not in (id_a, id_b)
    assert logconfig.request_id.get() == "-"  # each event's task keeps its id to itself


def test_the_socket_servers_add_no_second_handler(configured):
    """python-engineio/socketio attach a StreamHandler of their own (every line twice, once unformatted)
    to their logger when its level is unset as Reflex creates the server; the configuration sets it."""
    import engineio
    import socketio

    for name in ("engineio.server", "socketio.server"):
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).setLevel(logging.NOTSET)
    configured()
    socketio.AsyncServer(async_mode="asgi")
    engineio.AsyncServer(async_mode="asgi")
    assert logging.getLogger("engineio.server").handlers == []
    assert logging.getLogger("socketio.server").handlers == []
