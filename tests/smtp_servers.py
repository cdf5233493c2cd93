"""Real SMTP servers on 127.0.0.1 for delivery tests (aiosmtpd): one that refuses the first messages
then accepts, one that refuses the recipient for good, and `running`, which runs them for a test."""

from __future__ import annotations

import contextlib
import email
import email.policy
import socket
import threading

from aiosmtpd.controller import Controller
from sqlmodel import Session

from portal_app.billing.emails.outbox import deliver_queued_emails, send_email
from portal_app.models import EmailMessage, Merchant
from portal_app.settings import Settings


class FlakyServer:
    """aiosmtpd handler: answers DATA with `refusal` for the first `fail_first` messages, then accepts.
    Keeps the Message-ID of every message it was offered, and the ones it accepted."""

    def __init__(self, fail_first: int = 0, refusal: str = "451 4.3.0 <zoe@example.com> try again later"):
        self.fail_first, self.refusal = fail_first, refusal
        self.offered: list[str] = []
        self.accepted: list[str] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self.lock:
            self.offered.append(parsed["Message-ID"])
            if len(self.offered) <= self.fail_first:
                return self.refusal
            self.accepted.append(parsed["Message-ID"])
        return "250 Message accepted"


class RecipientRefused:
    def __init__(self) -> None:
        self.tries = 0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        self.tries += 1
        return "550 5.1.1 <zoe@example.com>: no such user here"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def smtp(port: int) -> Settings:
    return Settings(smtp_host="127.0.0.1", smtp_port=port, smtp_starttls=False, email_from="billing@portal.example")


@contextlib.contextmanager
def running():
    """start(handler) -> Settings of a real SMTP server on a free local port running `handler`;
    every server started is stopped when the block ends (a test's `serve` fixture wraps this)."""
    controllers = []

    def start(handler) -> Settings:
        port = free_port()
        controller = Controller(handler, hostname="127.0.0.1", port=port)
        controller.start()
        controllers.append(controller)
        return smtp(port)

    try:
        yield start
    finally:
        for controller in controllers:
            controller.stop()


def failed_email(engine, merchant_id: int, to_address: str, subscriber_id: int | None = None) -> int:
    """An email of the merchant that its SMTP server refused for good (status failed), made the way
    production makes one: queued, then delivered to a server that answers 550. Returns its id."""
    with running() as start:
        settings = start(RecipientRefused())
        with Session(engine) as session:
            row = send_email(
                session,
                merchant=session.get(Merchant, merchant_id),
                to_address=to_address,
                kind="new_link",
                language="en",
                context={"portal_url": "https://portal.example/p/x"},
                subscriber_id=subscriber_id,
                settings=settings,
            )
            session.commit()
            email_id = row.id
        deliver_queued_emails(engine, settings=settings)
    with Session(engine) as session:
        assert session.get(EmailMessage, email_id).status == "failed"
    return email_id
