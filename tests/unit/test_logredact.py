"""The log filter masks card numbers, CVCs, cookies and portal tokens wherever a line comes from."""

from __future__ import annotations

import io
import logging
import secrets

import pytest
from uvicorn.logging import AccessFormatter

from portal_app import logredact
from portal_app.logredact import RedactingFilter, RedactingStream, redact

TOKEN = secrets.token_urlsafe(32)  # a portal link token's shape (43 characters)


@pytest.mark.parametrize(
    ("line", "secret"),
    [
        ("number 4242 4242 4242 4242", "4242 4242 4242 4242"),
        ("pan=4000-0025-0000-3155;", "4000-0025-0000-3155"),
        ("amex 378282246310005 end", "378282246310005"),
        ("{'number': '4000002760003184'}", "4000002760003184"),
        ("{'cvc': '123', 'x': 1}", "'123'"),
        ('{"cvv": "9876"}', "9876"),
        ('{\\"cvc2\\": \\"731\\"}', "731"),
        ("card[cvc]=482&card[number]=x", "482"),
        ("cvc: 555", "555"),
        ("{'cookie': 'portal_session=s3cr3t; theme=dark'}", "s3cr3t"),
        ("Cookie: console_session=abc123def", "abc123def"),
        ("Set-Cookie: portal_session=zzz; HttpOnly; Path=/", "zzz"),
        ("[(b'cookie', b'console_session=q1w2e3')]", "q1w2e3"),
        ("later: portal_session=leaked-value", "leaked-value"),
        (f"GET /portal/{TOKEN} HTTP/1.1", TOKEN),
        (f"token={TOKEN}&x=1", TOKEN),
    ],
)
def test_secrets_are_masked(line, secret):
    assert secret not in redact(line)


@pytest.mark.parametrize(
    "line",
    [
        "invoice ACME-2026-000123 for 2900 cents",
        "card 4242424242424241 fails Luhn",  # not a card number: kept for debugging
        "2026-12-02 03:40:01,123 INFO started",
        "pm_AFJQANBSGQZAYB7ONMHY5YFEOGTI7VI6MBXO46DEBTD3K5WJ attached",
        "a" * 44,
    ],
)
def test_ordinary_lines_are_left_alone(line):
    assert redact(line) == line


def test_masking_twice_changes_nothing():
    """Records are masked when made, then again on their way through stdout/stderr."""
    line = f"{{'cvc': '123', 'cookie': 'portal_session=x'}} 4242424242424242 /portal/{TOKEN} cvv=1"
    assert redact(redact(line)) == redact(line)
    assert "[redacted]]" not in redact(redact(line))


def test_a_card_keeps_only_its_last_four():
    assert redact("4242 4242 4242 4242") == "****4242"


def _logger(name: str, formatter: logging.Formatter | None = None):
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    if formatter:
        handler.setFormatter(formatter)
    logger = logging.getLogger(name)
    logger.handlers[:] = [handler]
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    return logger, out


@pytest.fixture
def installed(monkeypatch):
    """install() on this process, undone afterwards (pytest owns sys.stdout/stderr here)."""
    factory = logging.getLogRecordFactory()
    monkeypatch.setattr(logredact.sys, "stdout", io.StringIO())
    monkeypatch.setattr(logredact.sys, "stderr", io.StringIO())
    logredact.install()
    logredact.install()  # idempotent: one layer
    yield logredact.sys
    logging.setLogRecordFactory(factory)


def test_install_masks_every_logger_messages_args_and_tracebacks(installed):
    logger, out = _logger("test.logredact.any")
    logger.warning("Event data: %s", {"number": "4242424242424242", "cvc": "123"})
    logger.info(f"headers {{'cookie': 'portal_session={TOKEN}'}}")
    try:
        raise ValueError("Failed to deserialize event data: {'number': '4000002500003155'}")
    except ValueError:
        logger.exception("boom %d", 3)
    text = out.getvalue()
    for secret in ("4242424242424242", "'123'", TOKEN, "4000002500003155"):
        assert secret not in text
    assert "boom 3" in text and "****3155" in text


def test_uvicorns_access_formatter_still_formats_masked_records(installed):
    logger, out = _logger(
        "test.logredact.access", AccessFormatter('%(client_addr)s - "%(request_line)s" %(status_code)s')
    )
    logger.info('%s - "%s %s HTTP/%s" %d', "127.0.0.1:5000", "GET", f"/portal/{TOKEN}", "1.1", 302)
    assert out.getvalue().strip() == '127.0.0.1:5000 - "GET /portal/[redacted] HTTP/1.1" 302 Found'


def test_stdout_and_stderr_are_masked(monkeypatch):
    factory = logging.getLogRecordFactory()
    out, err = io.StringIO(), io.StringIO()
    monkeypatch.setattr(logredact.sys, "stdout", out)
    monkeypatch.setattr(logredact.sys, "stderr", err)
    try:
        logredact.install()
        assert isinstance(logredact.sys.stdout, RedactingStream) and isinstance(logredact.sys.stderr, RedactingStream)
        print("card 4242 4242 4242 4242 cvc=123", file=logredact.sys.stdout)
        print(f"Set-Cookie: portal_session={TOKEN}", file=logredact.sys.stderr)
    finally:
        logging.setLogRecordFactory(factory)
    written = out.getvalue() + err.getvalue()
    assert "4242 4242 4242 4242" not in written and "cvc=123" not in written and TOKEN not in written


def test_the_filter_masks_records_made_elsewhere():
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "card %s", ("4242424242424242",), None)
    RedactingFilter().filter(record)
    assert record.getMessage() == "card ****4242"
