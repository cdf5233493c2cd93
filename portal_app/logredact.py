"""Masks secrets in every line the server writes: card numbers (Luhn-valid runs of 13-19 digits,
spaces or dashes allowed), cvc/cvv/cvc2 values and typed step-up codes (the step_up_code field),
Cookie / Set-Cookie headers and our session cookies, and portal tokens (43-character base64url, billing/portal_links.py).

Installed once per process from rxconfig.py (which the Reflex CLI and every backend worker import),
at the two places all output passes through:
  * logging's record factory: every record of every logger (Reflex's own, uvicorn/granian access and
    error logs, socketio/engineio, ours) is masked when it is made, whatever handler prints it;
  * sys.stdout / sys.stderr: Reflex's console (rich) and anything print()ed, tracebacks included.
Reflex logs whole event payloads it cannot route (no token, unknown handler, bad data), headers and
cookies included; this is what keeps those out of the log.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Mapping
from typing import Any

from portal_app.billing.card_numbers import luhn_valid

MASK = "[redacted]"
_CARD = re.compile(r"(?<!\d)\d(?:[ -]?\d){12,18}(?!\d)")
# A quote as it appears raw or escaped inside a logged repr/JSON string: ", ', \", \'.
_Q = r"""(?:\\{0,2}["'])"""
_CVC = re.compile(
    rf"(?i)(\b(?:cvc2?|cvv2?|csc|step_up_code)\b{_Q}?\]?{_Q}?\s*[:=,]\s*b?{_Q}?)(?!\[redacted\])([^\s\"'\\,;&}}\])]+)"
)
_COOKIE_HEADER = re.compile(rf"(?i)(\b(?:set-)?cookie\b{_Q}?\s*[:=,]\s*b?{_Q}?)([^\r\n\"'\\]+)")
_SESSION_COOKIE = re.compile(r"(?i)\b((?:portal|console)_session=)([^;\s\"'\\,]+)")
# Our API keys (billing/api_keys.py) and webhook signing secrets: the prefix stays, to tell what it was.
_API_SECRET = re.compile(r"\b(spk_|whsec_)[A-Za-z0-9_+/=-]{8,}")
_PORTAL_TOKEN = re.compile(r"(?<![A-Za-z0-9_-])[A-Za-z0-9_-]{43}(?![A-Za-z0-9_-])")


def _mask_card(match: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", match.group())
    return f"****{digits[-4:]}" if luhn_valid(digits) else match.group()


def redact(text: str) -> str:
    """text with every card number, CVC, cookie header/session cookie and portal token masked."""
    if not text:
        return text
    text = _COOKIE_HEADER.sub(lambda m: m.group(1) + MASK, text)
    text = _SESSION_COOKIE.sub(lambda m: m.group(1) + MASK, text)
    text = _CVC.sub(lambda m: m.group(1) + MASK, text)
    text = _API_SECRET.sub(lambda m: m.group(1) + MASK, text)
    text = _PORTAL_TOKEN.sub(MASK, text)
    return _CARD.sub(_mask_card, text)


class _Masked:
    """A log argument of any type, printed (str, repr or a format spec) only once masked."""

    def __init__(self, value: Any):
        self._value = value

    def __str__(self) -> str:
        return redact(str(self._value))

    def __repr__(self) -> str:
        return redact(repr(self._value))

    def __format__(self, spec: str) -> str:
        return redact(format(self._value, spec))


class _MaskedDict(dict):
    """A record's mapping argument: %(key)s reads masked values; "%s" % it prints it masked whole."""

    def __str__(self) -> str:
        return redact(dict.__repr__(self))

    __repr__ = __str__


def _masked_arg(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, float)):
        return value  # %d and %f keep working; no number of these types is a card's grouped digits
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, bytes):
        return redact(value.decode("utf-8", "replace"))
    return _Masked(value)


_EXCEPTIONS = logging.Formatter()


def redact_record(record: logging.LogRecord) -> logging.LogRecord:
    """Mask a record's message, arguments and traceback in place (uvicorn's access formatter reads
    record.args as a tuple, so the arguments stay where they are, each masked)."""
    template, args = record.msg, record.args
    record.msg = redact(template) if isinstance(template, str) else _masked_arg(template)
    if isinstance(args, tuple):
        record.args = tuple(_masked_arg(arg) for arg in args)
    elif isinstance(args, Mapping):
        record.args = _MaskedDict({key: _masked_arg(value) for key, value in args.items()})
    if args and isinstance(template, str) and record.msg != template:
        # The mask ate a placeholder ("Cookie: %s" -> "Cookie: [redacted]"): the record would fail to
        # format and its line be lost. Format it whole first, then mask the result.
        try:
            record.msg = redact(template % args)
        except (TypeError, ValueError, KeyError):
            record.msg = redact(f"{template} {args!r}")
        record.args = ()
    if record.exc_text:  # formatted before it reached us (a handler, a record built elsewhere)
        record.exc_text = redact(record.exc_text)
    elif record.exc_info and record.exc_info[0] is not None:
        record.exc_text = redact(_EXCEPTIONS.formatException(record.exc_info))
    if record.stack_info:
        record.stack_info = redact(record.stack_info)
    return record


class RedactingFilter(logging.Filter):
    """The same masking as a logging filter. portal_app/logconfig.py puts one on every handler, so a
    record that did not come from the factory (logging.makeLogRecord, a library's own records) is
    masked too."""

    def filter(self, record: logging.LogRecord) -> bool:
        redact_record(record)
        return True


class RedactingStream:
    """A text stream that masks what is written to it (everything else is the wrapped stream's)."""

    def __init__(self, stream):
        self._stream = stream

    def write(self, text) -> int:
        if isinstance(text, str):
            self._stream.write(redact(text))
            return len(text)
        return self._stream.write(text)

    def writelines(self, lines) -> None:
        for line in lines:
            self.write(line)

    @property
    def unmasked(self):
        """The wrapped stream itself (see unmasked_stdout)."""
        return self._stream

    def __getattr__(self, name: str):
        return getattr(self._stream, name)


def unmasked_stdout():
    """The process's stdout without the mask, for output whose whole point is a secret the operator
    asked for at a terminal: `python -m portal_app.billing links` prints the demo portal links that
    `make run` shows. Nothing else may write through it."""
    stream = sys.stdout
    return stream.unmasked if isinstance(stream, RedactingStream) else stream


def install() -> None:
    """Mask every log record and everything written to stdout/stderr in this process (idempotent)."""
    factory = logging.getLogRecordFactory()
    if not getattr(factory, "redacts", False):

        def redacting_factory(*args, **kwargs) -> logging.LogRecord:
            return redact_record(factory(*args, **kwargs))

        redacting_factory.redacts = True
        logging.setLogRecordFactory(redacting_factory)
    for name in ("stdout", "stderr"):
        stream = getattr(sys, name)
        if stream is not None and not isinstance(stream, RedactingStream):
            setattr(sys, name, RedactingStream(stream))
