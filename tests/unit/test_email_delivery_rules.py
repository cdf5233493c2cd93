"""Email delivery rules without a server: which SMTP failures are permanent, the backoff schedule,
the legal status moves, and errors that name a domain, never an address."""

from __future__ import annotations

import smtplib
import socket
from datetime import timedelta

import pytest

from portal_app.billing.emails.delivery import MAX_ATTEMPTS, RETRY_DELAYS, retry_delay
from portal_app.billing.emails.smtp import classify
from portal_app.billing.emails.status import EmailStatus, check_move
from portal_app.billing.statuses import InvalidTransition


@pytest.mark.parametrize(
    ("exc", "permanent", "unreachable"),
    [
        (smtplib.SMTPRecipientsRefused({"zoe@example.com": (550, b"5.1.1 <zoe@example.com> unknown")}), True, False),
        (smtplib.SMTPRecipientsRefused({"zoe@example.com": (452, b"4.2.2 mailbox full")}), False, False),
        (smtplib.SMTPDataError(554, b"5.7.1 message rejected as spam"), True, False),
        (smtplib.SMTPDataError(451, b"4.3.0 try later"), False, False),
        (smtplib.SMTPSenderRefused(553, b"sender not allowed", "billing@portal.example"), False, False),
        (smtplib.SMTPAuthenticationError(535, b"bad credentials"), False, False),
        (smtplib.SMTPConnectError(421, b"too busy"), False, True),
        (ConnectionRefusedError(111, "Connection refused"), False, True),
        (TimeoutError("timed out"), False, True),
        (socket.gaierror(-2, "Name or service not known"), False, True),
        (smtplib.SMTPServerDisconnected("Connection unexpectedly closed"), False, True),
        (smtplib.SMTPNotSupportedError("STARTTLS extension not supported by server."), False, False),
    ],
)
def test_only_a_5xx_for_the_recipient_or_the_message_is_permanent(exc, permanent, unreachable):
    failure = classify(exc)
    assert (failure.permanent, failure.unreachable) == (permanent, unreachable)
    assert failure.error.startswith(type(exc).__name__) and len(failure.error) <= 500


def test_errors_keep_the_domain_not_the_address():
    failure = classify(smtplib.SMTPRecipientsRefused({"zoe@example.com": (550, b"5.1.1 <zoe@example.com> unknown")}))
    assert failure.error == "SMTPRecipientsRefused: 550 5.1.1 <…@example.com> unknown"
    assert "zoe" not in classify(smtplib.SMTPSenderRefused(553, b"zoe@x.example no", "zoe@x.example")).error


def test_backoff_grows_and_ends():
    assert [retry_delay(n) for n in range(1, MAX_ATTEMPTS)] == list(RETRY_DELAYS)
    assert retry_delay(1) == timedelta(minutes=1) and retry_delay(MAX_ATTEMPTS) is None
    assert all(a < b for a, b in zip(RETRY_DELAYS, RETRY_DELAYS[1:], strict=False))


def test_only_legal_moves():
    E = EmailStatus
    check_move(E.QUEUED, E.SENDING)
    check_move(E.SENDING, E.QUEUED)
    check_move(E.FAILED, E.QUEUED)
    for current, new in ((E.SENT, E.QUEUED), (E.OUTBOX, E.QUEUED), (E.QUEUED, E.SENT), (E.FAILED, E.SENT)):
        with pytest.raises(InvalidTransition):
            check_move(current, new)
