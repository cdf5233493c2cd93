"""Console outbox: delivery in the merchant's words, and Resend of a failed email through the facade
and the Reflex handler, for the merchant's own emails only (another merchant's id does nothing)."""

from __future__ import annotations

import contextlib
import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import Session, select

from portal_app import db
from portal_app.billing import accounts, sessions
from portal_app.billing.emails.delivery import MAX_ATTEMPTS, deliver_queued_emails
from portal_app.billing.emails.outbox import send_email
from portal_app.billing.errors import NotAllowed, NotFound
from portal_app.billing.facades.console import outbox as outbox_facade
from portal_app.models import AuditEvent, EmailMessage, Merchant, Subscriber
from portal_app.pages.console.outbox import ConsoleOutboxState
from portal_app.portal_app import app  # noqa: F401  (registers every page and state)
from portal_app.settings import Settings
from tests.reflex_states import live_state, run_handler
from tests.smtp_servers import FlakyServer, RecipientRefused, free_port, running, smtp

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def serve():
    with running() as start:
        yield start


@pytest.fixture
def two_merchants(engine, monkeypatch, serve):
    """Acme and Bravo, each with one email its SMTP server refused for good (failed), one sent."""
    monkeypatch.setattr(db, "get_engine", lambda: engine)
    refusing = serve(RecipientRefused())
    accepting = serve(FlakyServer())
    monkeypatch.setattr(outbox_facade, "get_settings", lambda: accepting)
    out = {}
    for key, company in (("a", "Acme"), ("b", "Bravo")):
        with db.session_scope() as session:
            user = accounts.sign_up(
                session, company_name=company, email=f"owner@{company.lower()}.example", password="long enough password"
            )
            cookie = "console_session=" + sessions.open_console_session(session, user)
            merchant = session.get(Merchant, user.merchant_id)
            person = Subscriber(merchant_id=merchant.id, name=f"{company} Person", email=f"p@{company.lower()}.example")
            session.add(person)
            session.flush()
            failed, sent = (
                send_email(
                    session,
                    merchant=merchant,
                    to_address=person.email,
                    kind="new_link",
                    language="en",
                    context={"portal_url": "https://portal.example/p/x"},
                    subscriber_id=person.id,
                    settings=accepting,
                ).id
                for _ in range(2)
            )
        out[key] = {"merchant": user.merchant_id, "user": user.id, "cookie": cookie, "failed": failed, "sent": sent}
    ids = [out["a"]["failed"], out["b"]["failed"]]
    with db.session_scope() as session:  # the failed ones go first, to the refusing server
        for other in session.exec(select(EmailMessage).where(EmailMessage.id.not_in(ids))):
            other.next_attempt_at = T0 + timedelta(hours=1)  # (a queued row's schedule, not its status)
    deliver_queued_emails(engine, settings=refusing, now=T0)
    deliver_queued_emails(engine, settings=accepting, now=T0 + timedelta(hours=1))
    out["refusing"], out["accepting"] = refusing, accepting
    return out


def status(engine, email_id: int) -> tuple[str, int, str]:
    with Session(engine) as session:
        m = session.get(EmailMessage, email_id)
        return m.status, m.attempts, m.error


def test_the_outbox_says_where_delivery_stands(engine, two_merchants):
    a = two_merchants["a"]
    rows, _ = outbox_facade.list_outbox(merchant_id=a["merchant"], now=T0 + timedelta(hours=2))
    by_id = {m.message_id: m for m in rows}
    failed, sent = by_id[a["failed"]], by_id[a["sent"]]
    assert failed.status_label == "Failed" and failed.can_resend
    assert "refused this email for good" in failed.delivery and failed.error.startswith("SMTPRecipientsRefused: 550")
    assert sent.status_label == "Sent" and not sent.can_resend and sent.error == ""
    assert sent.delivery == "Accepted by your mail server 1 hour ago (13:00 UTC)."
    assert {m.message_id for m in rows} == {a["failed"], a["sent"]}  # Bravo's are not listed

    # A retry waiting reads as such, in Spanish too.
    with db.session_scope() as session:
        row = session.get(EmailMessage, a["failed"])
        retry = EmailMessage(**{**row.model_dump(), "id": None, "status": "queued", "attempts": 2})
        retry.next_attempt_at, retry.error = T0 + timedelta(minutes=5), "SMTPDataError: 451 4.3.0 busy"
        session.add(retry)
    rows, _ = outbox_facade.list_outbox(merchant_id=a["merchant"], now=T0)
    (waiting,) = [m for m in rows if m.status == "queued"]
    assert waiting.status_label == "Retrying" and not waiting.can_resend
    assert waiting.delivery == f"Attempt 2 of {MAX_ATTEMPTS} did not go through. Next attempt in 5 minutes (12:05 UTC)."
    assert waiting.error == "SMTPDataError: 451 4.3.0 busy"
    rows, _ = outbox_facade.list_outbox(merchant_id=a["merchant"], now=T0, lang="es")
    (waiting,) = [m for m in rows if m.status == "queued"]
    assert waiting.status_label == "Reintentando"
    assert waiting.delivery.startswith("El intento 2 de") and "dentro de 5 minutos (12:05 UTC)" in waiting.delivery


def test_resend_requeues_a_failed_email_of_ones_own_and_it_is_sent(engine, two_merchants):
    a, b = two_merchants["a"], two_merchants["b"]
    notice = outbox_facade.resend_email(merchant_id=a["merchant"], user_id=a["user"], email_id=str(a["failed"]))
    assert notice == "The email is queued again: it will be sent within a minute."
    assert status(engine, a["failed"]) == ("queued", 0, "")
    with Session(engine) as session:
        (event,) = session.exec(select(AuditEvent).where(AuditEvent.kind == "email_resent")).all()
    assert event.merchant_id == a["merchant"] and event.actor == f"user:{a['user']}"
    assert json.loads(event.detail)["email"] == a["failed"]

    assert deliver_queued_emails(engine, settings=two_merchants["accepting"], now=T0 + timedelta(hours=3)) == 1
    assert status(engine, a["failed"]) == ("sent", 1, "")
    assert status(engine, b["failed"])[0] == "failed"  # Bravo's failed email was left alone


def test_resend_refuses_another_merchants_email_a_sent_one_and_garbage(engine, two_merchants):
    a, b = two_merchants["a"], two_merchants["b"]
    before = status(engine, b["failed"])
    with pytest.raises(NotFound):
        outbox_facade.resend_email(merchant_id=a["merchant"], user_id=a["user"], email_id=b["failed"])
    for garbage in (None, True, -1, 0, "1 OR 1=1", {"id": b["failed"]}, [b["failed"]], 2**70, "Ⅻ"):
        with pytest.raises(NotFound):
            outbox_facade.resend_email(merchant_id=a["merchant"], user_id=a["user"], email_id=garbage)
    with pytest.raises(NotAllowed):
        outbox_facade.resend_email(merchant_id=a["merchant"], user_id=a["user"], email_id=a["sent"])
    assert status(engine, b["failed"]) == before and status(engine, a["sent"])[0] == "sent"
    with Session(engine) as session:
        assert session.exec(select(AuditEvent).where(AuditEvent.kind == "email_resent")).all() == []


def test_resend_without_smtp_puts_the_email_back_in_the_outbox(engine, two_merchants, monkeypatch):
    a = two_merchants["a"]
    monkeypatch.setattr(outbox_facade, "get_settings", lambda: Settings(smtp_host=""))
    notice = outbox_facade.resend_email(merchant_id=a["merchant"], user_id=a["user"], email_id=a["failed"])
    assert "kept here, not sent" in notice and status(engine, a["failed"]) == ("outbox", 0, "")
    smtp_down = smtp(free_port())
    assert deliver_queued_emails(engine, settings=smtp_down, now=T0 + timedelta(days=1)) == 0
    assert status(engine, a["failed"])[0] == "outbox"  # the outbox is not delivered, as before


_connections = contextlib.ExitStack()


@pytest.fixture(autouse=True)
def _close_connections():
    yield
    _connections.close()


def _state(cookie: str) -> ConsoleOutboxState:
    return _connections.enter_context(live_state(ConsoleOutboxState, cookie, path="/console/outbox"))


def test_the_resend_handler_serves_its_merchant_only(engine, two_merchants):
    a, b = two_merchants["a"], two_merchants["b"]
    state = _state(a["cookie"])
    run_handler(ConsoleOutboxState.load, state)
    shown = {m["id"]: m for m in state.messages}
    assert shown[str(a["failed"])]["can_resend"] == "1" and shown[str(a["sent"])]["can_resend"] == ""
    assert shown[str(a["failed"])]["label"] == "Failed" and shown[str(a["failed"])]["error"].startswith("SMTP")

    b_before = status(engine, b["failed"])
    for argument in (str(b["failed"]), b["failed"], {"id": 1}, ["1"], None, "-5", str(a["sent"])):
        (emitted,) = run_handler(ConsoleOutboxState.resend, state, argument)
        assert "error" in repr(emitted).lower(), argument
    assert status(engine, b["failed"]) == b_before
    assert "Bravo" not in repr(state.messages)

    (emitted,) = run_handler(ConsoleOutboxState.resend, state, str(a["failed"]))
    assert "queued again" in repr(emitted)
    assert {m["id"]: m["status"] for m in state.messages}[str(a["failed"])] == "queued"  # the list is refreshed

    for cookie in ("", "console_session=forged", b["cookie"].replace("=", "=x")):
        stranger = _state(cookie)
        (emitted,) = run_handler(ConsoleOutboxState.resend, stranger, str(b["failed"]))
        assert "_redirect" in repr(emitted) and not stranger.signed_in
    assert status(engine, b["failed"]) == b_before
