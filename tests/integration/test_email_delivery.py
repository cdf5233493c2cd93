"""Email delivery against real SMTP servers on 127.0.0.1 (aiosmtpd): retries with backoff on the
clock we pass, a server that is down, permanent refusals, the attempt limit, crash recovery of rows
left in "sending", and two deliverers racing on one queue (SQLite, and PostgreSQL when reachable)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from aiosmtpd.controller import Controller
from alembic.config import Config
from sqlmodel import Session, select

from alembic import command
from portal_app import db
from portal_app.billing.emails import delivery
from portal_app.billing.emails.delivery import MAX_ATTEMPTS, RETRY_DELAYS, SENDING_TIMEOUT, deliver_queued_emails
from portal_app.billing.emails.outbox import send_email
from portal_app.billing.emails.smtp import message_id
from portal_app.models import EmailMessage, Merchant, Subscriber
from portal_app.settings import Settings
from tests.smtp_servers import FlakyServer, RecipientRefused, free_port, running, smtp

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
LINK = {"portal_url": "https://portal.example/p/abcdefghijklmnop1234"}


@pytest.fixture
def serve():
    with running() as start:
        yield start


def queue(engine, settings: Settings, count: int = 1, *, to: str = "zoe@example.com") -> list[int]:
    with Session(engine, expire_on_commit=False) as session:
        merchant = session.exec(select(Merchant)).first()
        if merchant is None:
            merchant = Merchant(name="Acme Cloud", slug="acme", invoice_prefix="ACME")
            session.add(merchant)
            session.flush()
            session.add(Subscriber(merchant_id=merchant.id, name="Zoë", email=to))
        rows = [
            send_email(
                session,
                merchant=merchant,
                to_address=to,
                kind="new_link",
                language="en",
                context=LINK,
                settings=settings,
            )
            for _ in range(count)
        ]
        session.commit()
        return [row.id for row in rows]


def row(engine, email_id: int) -> EmailMessage:
    with Session(engine) as session:
        return session.get(EmailMessage, email_id)


def test_refused_twice_then_accepted_is_retried_with_backoff_and_sent_once(engine, serve, caplog):
    server = FlakyServer(fail_first=2)
    settings = serve(server)
    (email_id,) = queue(engine, settings)

    assert deliver_queued_emails(engine, settings=settings, now=T0) == 0
    first = row(engine, email_id)
    assert first.status == "queued" and first.attempts == 1 and first.next_attempt_at == T0 + RETRY_DELAYS[0]
    assert first.error.startswith("SMTPDataError: 451") and "zoe@example.com" not in first.error
    assert "…@example.com" in first.error  # the domain says enough; the row already names the person

    # Not due yet: nothing is tried.
    assert deliver_queued_emails(engine, settings=settings, now=T0 + timedelta(seconds=59)) == 0
    assert len(server.offered) == 1

    second_at = T0 + RETRY_DELAYS[0]
    assert deliver_queued_emails(engine, settings=settings, now=second_at) == 0
    second = row(engine, email_id)
    assert second.attempts == 2 and second.next_attempt_at == second_at + RETRY_DELAYS[1]

    third_at = second_at + RETRY_DELAYS[1]
    assert deliver_queued_emails(engine, settings=settings, now=third_at) == 1
    sent = row(engine, email_id)
    assert sent.status == "sent" and sent.sent_at == third_at and sent.error == "" and sent.attempts == 3
    assert sent.next_attempt_at is None and sent.claimed_at is None
    assert deliver_queued_emails(engine, settings=settings, now=third_at + timedelta(days=1)) == 0
    # Sent exactly once, and every attempt carried the same Message-ID (receivers can deduplicate).
    assert server.accepted == [message_id(sent, settings)]
    assert server.offered == [message_id(sent, settings)] * 3
    # Our own log lines (the loopback SMTP server's "mail.log" logger prints what it receives).
    ours = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("portal_app"))
    assert any(r.name.startswith("portal_app") for r in caplog.records)  # something was logged
    assert "zoe@example.com" not in ours and "abcdefghijklmnop1234" not in ours


def test_a_server_that_is_down_is_retried_and_the_pass_stops_waiting_on_it(engine, serve):
    port = free_port()  # nothing listens there yet
    settings = smtp(port)
    ids = queue(engine, settings, 3)
    assert deliver_queued_emails(engine, settings=settings, now=T0) == 0
    rows = [row(engine, i) for i in ids]
    # The first attempt found no server; the others were not tried against it in the same pass.
    assert rows[0].status == "queued" and rows[0].attempts == 1 and "ConnectionRefusedError" in rows[0].error
    assert [(r.status, r.attempts) for r in rows[1:]] == [("queued", 0), ("queued", 0)]

    server = FlakyServer()
    controller = Controller(server, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        assert deliver_queued_emails(engine, settings=settings, now=T0 + timedelta(seconds=5)) == 2  # not the first
        assert deliver_queued_emails(engine, settings=settings, now=T0 + RETRY_DELAYS[0]) == 1
    finally:
        controller.stop()
    assert [row(engine, i).status for i in ids] == ["sent"] * 3 and len(server.accepted) == 3


def test_a_permanent_refusal_of_the_recipient_fails_at_once(engine, serve):
    server = RecipientRefused()
    settings = serve(server)
    (email_id,) = queue(engine, settings)
    deliver_queued_emails(engine, settings=settings, now=T0)
    failed = row(engine, email_id)
    assert failed.status == "failed" and failed.attempts == 1 and failed.next_attempt_at is None
    assert failed.error.startswith("SMTPRecipientsRefused: 550") and "zoe@example.com" not in failed.error
    deliver_queued_emails(engine, settings=settings, now=T0 + timedelta(days=2))
    assert server.tries == 1 and row(engine, email_id).status == "failed"


def test_the_attempt_limit_ends_failed_with_the_last_error(engine, serve):
    server = FlakyServer(fail_first=1000, refusal="452 4.2.2 mailbox full")
    settings = serve(server)
    (email_id,) = queue(engine, settings)
    at = T0
    for attempt in range(1, MAX_ATTEMPTS + 1):
        deliver_queued_emails(engine, settings=settings, now=at)
        current = row(engine, email_id)
        assert current.attempts == attempt
        if attempt < MAX_ATTEMPTS:
            assert current.status == "queued"
            at = current.next_attempt_at
    assert current.status == "failed" and current.error == "SMTPDataError: 452 4.2.2 mailbox full"
    assert at - T0 == sum(RETRY_DELAYS, timedelta())
    deliver_queued_emails(engine, settings=settings, now=at + timedelta(days=30))
    assert len(server.offered) == MAX_ATTEMPTS and row(engine, email_id).status == "failed"


class WorkerKilled(BaseException):
    """The process dies mid-send (not an Exception: nothing in delivery catches it)."""


def crash_during_send(monkeypatch):
    def die(message, settings):
        raise WorkerKilled

    monkeypatch.setattr(delivery, "deliver", die)


def test_a_row_stuck_in_sending_past_the_timeout_is_recovered_and_sent_a_fresh_one_is_not(engine, serve, monkeypatch):
    server = FlakyServer()
    settings = serve(server)
    old_id, fresh_id = queue(engine, settings, 2)
    real_deliver = delivery.deliver
    crash_during_send(monkeypatch)
    with pytest.raises(WorkerKilled):
        deliver_queued_emails(engine, settings=settings, now=T0, limit=1)  # takes the old row, dies
    with pytest.raises(WorkerKilled):
        deliver_queued_emails(engine, settings=settings, now=T0 + timedelta(minutes=8))  # the fresh one
    assert [(row(engine, i).status, row(engine, i).attempts) for i in (old_id, fresh_id)] == [("sending", 1)] * 2
    monkeypatch.setattr(delivery, "deliver", real_deliver)

    # Before the timeout nothing is taken back: the worker may still be talking to the server.
    assert deliver_queued_emails(engine, settings=settings, now=T0 + SENDING_TIMEOUT - timedelta(seconds=1)) == 0
    assert row(engine, old_id).status == "sending" and server.offered == []

    assert deliver_queued_emails(engine, settings=settings, now=T0 + SENDING_TIMEOUT + timedelta(seconds=1)) == 1
    recovered = row(engine, old_id)
    assert recovered.status == "sent" and recovered.attempts == 2  # the interrupted attempt counted
    assert row(engine, fresh_id).status == "sending"  # held 3 minutes only: still its worker's
    assert server.accepted == [message_id(recovered, settings)]


def test_a_row_interrupted_on_its_last_attempt_ends_failed(engine, serve, monkeypatch):
    settings = serve(FlakyServer())
    (email_id,) = queue(engine, settings)
    crash_during_send(monkeypatch)
    at = T0
    for _ in range(MAX_ATTEMPTS):  # each pass recovers the row the previous one left, and dies again
        with pytest.raises(WorkerKilled):
            deliver_queued_emails(engine, settings=settings, now=at)
        at += SENDING_TIMEOUT + timedelta(seconds=1)
    assert row(engine, email_id).attempts == MAX_ATTEMPTS
    assert deliver_queued_emails(engine, settings=settings, now=at) == 0
    failed = row(engine, email_id)
    assert failed.status == "failed" and failed.error.startswith("Interrupted")


def test_an_outcome_is_not_written_over_a_recovery(engine, serve, monkeypatch):
    """A worker that comes back after its row was recovered and re-claimed leaves the new claim alone."""
    server = FlakyServer()
    settings = serve(server)
    (email_id,) = queue(engine, settings)
    real_deliver = delivery.deliver
    late = T0 + SENDING_TIMEOUT + timedelta(minutes=1)

    def slow_then_recovered(message, s):
        # While this worker is "stuck", another recovers the row and claims it (and dies mid-send).
        monkeypatch.setattr(delivery, "deliver", lambda m, s: (_ for _ in ()).throw(WorkerKilled()))
        with pytest.raises(WorkerKilled):
            deliver_queued_emails(engine, settings=settings, now=late)
        real_deliver(message, s)

    monkeypatch.setattr(delivery, "deliver", slow_then_recovered)
    assert deliver_queued_emails(engine, settings=settings, now=T0) == 1
    current = row(engine, email_id)
    assert current.status == "sending" and current.attempts == 2 and current.claimed_at == late
    assert len(server.accepted) == 1


@pytest.mark.concurrency
def test_two_deliverers_never_send_one_email_twice(any_engine, serve):
    class Slow(FlakyServer):
        async def handle_DATA(self, server, session, envelope):
            import asyncio

            await asyncio.sleep(0.01)  # the two workers overlap on the queue
            return await super().handle_DATA(server, session, envelope)

    server = Slow()
    settings = serve(server)
    ids = queue(any_engine, settings, 40)
    barrier, errors, counts = threading.Barrier(2), [], []

    def worker():
        try:
            barrier.wait()
            counts.append(deliver_queued_emails(any_engine, settings=settings, now=T0))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sum(counts) == 40 and len(server.accepted) == 40 and len(set(server.accepted)) == 40
    with Session(any_engine) as session:
        rows = session.exec(select(EmailMessage).where(EmailMessage.id.in_(ids))).all()
    assert {(r.status, r.attempts) for r in rows} == {("sent", 1)}


def test_rows_left_in_sending_by_the_previous_version_are_recovered_after_the_upgrade(tmp_path, serve):
    url = f"sqlite:///{tmp_path / 'upgrade.db'}"
    config = Config()
    config.set_main_option("script_location", str(db.MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url)
    command.upgrade(config, "d0f1a1ed1a0d")
    engine = db.make_engine(url)
    with engine.begin() as conn:  # the schema as it was: plain SQL, not today's models
        conn.exec_driver_sql(
            "INSERT INTO merchant (name, slug, invoice_prefix, support_email, default_language,"
            " dunning_schedule_days, dunning_end_state, logo_content_type, created_at)"
            " VALUES ('Acme', 'acme', 'AC', '', 'en', '1', 'unpaid', '', '2026-01-01 00:00:00')"
        )
        conn.exec_driver_sql(
            "INSERT INTO email_message (merchant_id, kind, to_address, subject, body_text, body_html, status, error,"
            " created_at) VALUES (1, 'new_link', 'zoe@example.com', 'Hi', 'Body', '', 'sending', '',"
            " '2026-02-01 10:00:00')"
        )
    command.upgrade(config, "head")
    server = FlakyServer()
    settings = serve(server)
    assert deliver_queued_emails(engine, settings=settings, now=T0) == 1
    upgraded = row(engine, 1)
    # the interrupted attempt of the old version counts, then this one
    assert upgraded.status == "sent" and upgraded.attempts == 2 and len(server.accepted) == 1
    engine.dispose()
