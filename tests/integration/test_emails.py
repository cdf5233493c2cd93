"""Customer emails: outbox rows, real SMTP delivery (aiosmtpd on 127.0.0.1), failures, escaping."""

from __future__ import annotations

import email
import email.policy
import socket
from datetime import UTC, datetime, timedelta

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from sqlmodel import Session, select

from portal_app.billing.card_numbers import mask_card_numbers
from portal_app.billing.emails.outbox import deliver_queued_emails, send_email
from portal_app.billing.emails.render import EMAIL_KINDS, REQUIRED_CONTEXT, render_email
from portal_app.billing.money import Money
from portal_app.i18n import decline_reason
from portal_app.models import EmailMessage, Merchant, Subscriber
from portal_app.settings import Settings

PORTAL_URL = "https://portal.example/p/abc123?from=email&x=1"
CONTEXT = {
    "subscriber_name": "Zoë Ñúñez",
    "portal_url": PORTAL_URL,
    "amount": Money(2900, "EUR"),
    "invoice_number": "ACME-2026-000001",
    "credit_note_number": "ACME-CN-2026-000001",
    "decline_code": "insufficient_funds",
    "next_retry_at": datetime(2026, 2, 3, 9, 0, tzinfo=UTC),
    "brand": "visa",
    "last4": "4242",
    "exp": "03/2026",
    "access_ends": datetime(2026, 2, 28, tzinfo=UTC),
    "plan_name": "Pro",
    # plan_changed (a plan change: from, when, the next renewal)
    "previous_plan": "Pro",
    "effective": datetime(2026, 2, 10, tzinfo=UTC),
    "next_renewal": datetime(2026, 2, 28, tzinfo=UTC),
    "next_amount": Money(4900, "EUR"),
    # pauses and trials (kinds_pause.py, kinds_trial.py)
    "pause_starts": datetime(2026, 2, 28, tzinfo=UTC),
    "resume_at": datetime(2026, 3, 15, tzinfo=UTC),
    "trial_end": datetime(2026, 2, 14, tzinfo=UTC),
    "cycles": 3,  # retention_offer_accepted
    "percent": 20,
    "code": "042917",  # step_up_code
}
# Kinds that carry no portal link: the step-up code confirms a change in a portal already open.
WITHOUT_LINK = {"step_up_code"}


class CollectingHandler:
    """aiosmtpd handler that keeps every message it accepts."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], email.message.EmailMessage]] = []

    async def handle_DATA(self, server, session, envelope):
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), parsed))
        return "250 Message accepted"


class RefusingHandler:
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        return "550 5.1.1 No such user here"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def smtp_server():
    """A real SMTP server on a free local port; yields (handler, port)."""
    handler = CollectingHandler()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    yield handler, port
    controller.stop()


def smtp_settings(port: int, **overrides) -> Settings:
    values = {
        "smtp_host": "127.0.0.1",
        "smtp_port": port,
        "smtp_starttls": False,
        "email_from": "billing@portal.example",
        **overrides,
    }
    return Settings(**values)


OUTBOX = Settings(smtp_host="")


@pytest.fixture
def merchant_and_subscriber(session):
    merchant = Merchant(name="Acme Cloud", slug="acme", invoice_prefix="ACME", support_email="help@acme.example")
    session.add(merchant)
    session.flush()
    subscriber = Subscriber(merchant_id=merchant.id, name="Zoë Ñúñez", email="zoe@example.com", language="es")
    session.add(subscriber)
    session.commit()
    return merchant, subscriber


def stored_rows(engine) -> list[EmailMessage]:
    with Session(engine) as fresh:
        return list(fresh.exec(select(EmailMessage).order_by(EmailMessage.id)))


def test_outbox_mode_writes_a_row_per_email(engine, session, merchant_and_subscriber):
    merchant, subscriber = merchant_and_subscriber
    row = send_email(
        session,
        merchant=merchant,
        to_address=subscriber.email,
        kind="invitation",
        language="en",
        context={"portal_url": PORTAL_URL, "subscriber_name": subscriber.name},
        subscriber_id=subscriber.id,
        settings=OUTBOX,
    )
    assert row.id is not None  # flushed
    session.commit()

    (stored,) = stored_rows(engine)
    assert stored.status == "outbox" and stored.sent_at is None and stored.error == ""
    assert stored.kind == "invitation"
    assert stored.merchant_id == merchant.id and stored.subscriber_id == subscriber.id
    assert stored.to_address == "zoe@example.com"
    assert "Acme Cloud" in stored.subject
    assert PORTAL_URL in stored.body_text
    assert "Hi Zoë Ñúñez," in stored.body_text
    assert 'href="https://portal.example/p/abc123?from=email&amp;x=1"' in stored.body_html


def test_caller_commits_the_row(engine, session, merchant_and_subscriber):
    merchant, subscriber = merchant_and_subscriber
    send_email(
        session,
        merchant=merchant,
        to_address=subscriber.email,
        kind="new_link",
        language="en",
        context={"portal_url": PORTAL_URL},
        settings=OUTBOX,
    )
    session.rollback()
    assert stored_rows(engine) == []


@pytest.mark.parametrize("language", ["en", "es"])
@pytest.mark.parametrize("kind", EMAIL_KINDS)
def test_every_kind_renders_in_both_languages(session, merchant_and_subscriber, kind, language):
    merchant, subscriber = merchant_and_subscriber
    row = send_email(
        session,
        merchant=merchant,
        to_address=subscriber.email,
        kind=kind,
        language=language,
        context=CONTEXT,
        subscriber_id=subscriber.id,
        settings=OUTBOX,
    )
    assert "Acme Cloud" in row.subject
    greeting = "Hola, Zoë Ñúñez:" if language == "es" else "Hi Zoë Ñúñez,"
    assert greeting in row.body_text
    assert "Zoë Ñúñez" in row.body_html
    assert (PORTAL_URL in row.body_text) is (kind not in WITHOUT_LINK)
    assert row.body_html.startswith("<!DOCTYPE html>")
    assert f'<html lang="{language}">' in row.body_html
    footer = "Escríbanos a help@acme.example" if language == "es" else "Write to help@acme.example"
    assert footer in row.body_text


@pytest.mark.parametrize(
    ("kind", "language", "expected"),
    [
        ("receipt", "en", ["Receipt from Acme Cloud: €29.00 for invoice ACME-2026-000001"]),
        ("receipt", "es", ["Recibo de Acme Cloud: 29,00\xa0€ por la factura ACME-2026-000001"]),
        (
            "payment_failed",
            "en",
            ["Your bank declined the payment for insufficient funds.", "We will try again on February 3, 2026."],
        ),
        (
            "payment_failed",
            "es",
            ["Su banco rechazó el pago por fondos insuficientes.", "Lo volveremos a intentar el 3 de febrero de 2026."],
        ),
        ("card_expiring", "en", ["your Visa card ending in 4242 expires soon", "end of March 2026"]),
        ("card_expiring", "es", ["su tarjeta Visa terminada en 4242 caduca pronto", "finales de marzo de 2026"]),
        ("cancellation", "en", ["You keep access until February 28, 2026", "undo the cancellation"]),
        ("cancellation", "es", ["Mantiene el acceso hasta el 28 de febrero de 2026", "deshacer la cancelación"]),
        ("new_link", "es", ["su nuevo enlace al portal de facturación"]),
        ("invitation", "es", ["Su portal de facturación de Acme Cloud"]),
    ],
)
def test_content_is_localized(kind, language, expected):
    subject, text, _ = render_email(kind, language, {"merchant_name": "Acme Cloud", **CONTEXT})
    for phrase in expected:
        assert phrase in subject + "\n" + text, phrase


def test_payment_failed_last_attempt_and_free_text_reason():
    context = {"merchant_name": "Acme", **CONTEXT, "final": True, "decline_code": "", "reason": "Card blocked."}
    _, text, _ = render_email("payment_failed", "en", context)
    assert "last automatic attempt" in text and "Card blocked." in text and "try again on" not in text
    assert decline_reason("stolen_card", "en") == "This card can no longer be used."  # never accuses
    assert decline_reason("something_new", "es") == "Su banco rechazó el pago."


def test_immediate_cancellation_offers_no_undo():
    context = {"merchant_name": "Acme", **CONTEXT, "immediate": True}
    _, text, _ = render_email("cancellation", "en", context)
    assert "Your access ended on February 28, 2026" in text and "undo" not in text


def test_receipt_without_portal_link_has_no_button():
    context = {"merchant_name": "Acme", "amount": "€29.00", "invoice_number": "ACME-2026-000001"}
    _, text, body_html = render_email("receipt", "en", context)
    assert "€29.00" in text and "href=" not in body_html


def test_smtp_delivery_sends_both_parts(engine, session, merchant_and_subscriber, smtp_server):
    handler, port = smtp_server
    merchant, subscriber = merchant_and_subscriber
    settings = smtp_settings(port)
    row = send_email(
        session,
        merchant=merchant,
        to_address=subscriber.email,
        kind="receipt",
        language="es",
        context=CONTEXT,
        subscriber_id=subscriber.id,
        settings=settings,
    )
    assert row.status == "queued" and handler.messages == []  # nothing leaves inside the transaction
    session.commit()
    assert deliver_queued_emails(engine, settings=settings) == 1
    assert deliver_queued_emails(engine, settings=settings) == 0  # sent once only

    (stored,) = stored_rows(engine)
    assert stored.status == "sent" and stored.sent_at is not None and stored.error == ""
    (mail_from, recipients, message) = handler.messages[0]
    assert len(handler.messages) == 1
    assert mail_from == "billing@portal.example"
    assert recipients == ["zoe@example.com"]
    assert message["To"] == "zoe@example.com"
    assert message["Subject"] == row.subject
    assert "Acme Cloud" in message["Subject"]
    assert "Acme Cloud" in message["From"] and "billing@portal.example" in message["From"]
    assert message["Reply-To"] == "help@acme.example"
    assert message.get_content_type() == "multipart/alternative"
    plain = message.get_body(preferencelist=("plain",)).get_content()
    html_part = message.get_body(preferencelist=("html",)).get_content()
    assert plain.replace("\r\n", "\n").strip() == row.body_text.strip()
    assert "ACME-2026-000001" in plain and PORTAL_URL in plain
    assert "<!DOCTYPE html>" in html_part and "Zoë Ñúñez" in html_part


def test_smtp_login_when_a_username_is_configured(engine, session, merchant_and_subscriber):
    merchant, subscriber = merchant_and_subscriber
    logins: list[tuple[bytes, bytes]] = []

    def authenticator(server, smtp_session, envelope, mechanism, auth_data):
        assert isinstance(auth_data, LoginPassword)
        logins.append((auth_data.login, auth_data.password))
        return AuthResult(success=auth_data.password == b"s3cret")

    handler = CollectingHandler()
    port = free_port()
    controller = Controller(
        handler, hostname="127.0.0.1", port=port, authenticator=authenticator, auth_require_tls=False
    )
    controller.start()
    settings = smtp_settings(port, smtp_username="portal", smtp_password="s3cret")
    try:
        send_email(
            session,
            merchant=merchant,
            to_address=subscriber.email,
            kind="new_link",
            language="en",
            context={"portal_url": PORTAL_URL},
            settings=settings,
        )
        session.commit()
        assert deliver_queued_emails(engine, settings=settings) == 1
    finally:
        controller.stop()
    assert logins == [(b"portal", b"s3cret")]
    assert stored_rows(engine)[0].status == "sent" and len(handler.messages) == 1


def test_smtp_server_down_queues_a_retry_without_raising(engine, session, merchant_and_subscriber, caplog):
    merchant, subscriber = merchant_and_subscriber
    port = free_port()  # nothing listens there
    settings = smtp_settings(port)
    send_email(
        session,
        merchant=merchant,
        to_address=subscriber.email,
        kind="payment_failed",
        language="en",
        context=CONTEXT,
        subscriber_id=subscriber.id,
        settings=settings,
    )
    session.commit()
    now = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    assert deliver_queued_emails(engine, settings=settings, now=now) == 0
    (stored,) = stored_rows(engine)
    assert stored.status == "queued" and stored.sent_at is None and "ConnectionRefusedError" in stored.error
    assert stored.attempts == 1 and stored.next_attempt_at == now + timedelta(minutes=1)
    assert stored.body_text  # the content is kept for the retry
    assert "could not be sent" in caplog.text and "will retry" in caplog.text
    assert subscriber.email not in caplog.text  # the log names the row, not the person


def test_recipient_refused_marks_the_row_failed(engine, session, merchant_and_subscriber):
    merchant, subscriber = merchant_and_subscriber
    port = free_port()
    controller = Controller(RefusingHandler(), hostname="127.0.0.1", port=port)
    controller.start()
    settings = smtp_settings(port)
    try:
        send_email(
            session,
            merchant=merchant,
            to_address="nobody@example.com",
            kind="new_link",
            language="en",
            context={"portal_url": PORTAL_URL},
            settings=settings,
        )
        session.commit()
        deliver_queued_emails(engine, settings=settings)
    finally:
        controller.stop()
    (stored,) = stored_rows(engine)
    assert stored.status == "failed" and "SMTPRecipientsRefused" in stored.error


def test_hostile_names_are_escaped_in_html(session, merchant_and_subscriber):
    merchant, subscriber = merchant_and_subscriber
    merchant.name = 'Acme "<b>Bold</b>"'
    hostile = '<script>alert("x")</script> & <img src=x onerror=alert(1)>'
    row = send_email(
        session,
        merchant=merchant,
        to_address=subscriber.email,
        kind="cancellation",
        language="en",
        context={**CONTEXT, "subscriber_name": hostile, "plan_name": "<i>Pro</i>"},
        settings=OUTBOX,
    )
    assert "<script>" not in row.body_html and "<img" not in row.body_html and "<i>" not in row.body_html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &lt;img src=x onerror=alert(1)&gt;" in row.body_html
    assert "&lt;b&gt;Bold&lt;/b&gt;" in row.body_html and "<b>" not in row.body_html
    assert hostile in row.body_text  # plain text stays as typed
    assert "\n" not in row.subject


def test_card_numbers_never_reach_an_email(session, merchant_and_subscriber):
    merchant, subscriber = merchant_and_subscriber
    row = send_email(
        session,
        merchant=merchant,
        to_address=subscriber.email,
        kind="payment_failed",
        language="en",
        context={
            **CONTEXT,
            "subscriber_name": "Pay with 4242 4242 4242 4242",
            "decline_code": "",
            "reason": "card 4000-0000-0000-0002 declined",
        },
        settings=OUTBOX,
    )
    for part in (row.subject, row.body_text, row.body_html):
        assert "4242 4242 4242 4242" not in part and "4000-0000-0000-0002" not in part
    assert "•••• 4242" in row.body_text and "•••• 0002" in row.body_text
    assert mask_card_numbers("Invoice ACME-2026-000123, phone 612 345 678") == (
        "Invoice ACME-2026-000123, phone 612 345 678"
    )
    with pytest.raises(ValueError, match="last 4"):
        render_email("card_expiring", "en", {"merchant_name": "Acme", **CONTEXT, "last4": "4242424242424242"})


def test_caller_mistakes_raise():
    with pytest.raises(ValueError, match="unknown email kind"):
        render_email("welcome", "en", {"merchant_name": "Acme"})
    with pytest.raises(KeyError, match="portal_url"):
        render_email("invitation", "en", {"merchant_name": "Acme"})
    with pytest.raises(ValueError, match="http"):
        render_email("new_link", "en", {"merchant_name": "Acme", "portal_url": "javascript:alert(1)"})
    assert set(REQUIRED_CONTEXT) == set(EMAIL_KINDS)


def test_header_injection_in_recipient_is_refused(session, merchant_and_subscriber):
    merchant, _ = merchant_and_subscriber
    with pytest.raises(ValueError):
        send_email(
            session,
            merchant=merchant,
            to_address="a@example.com\r\nBcc: all@example.com",
            kind="new_link",
            language="en",
            context={"portal_url": PORTAL_URL},
            settings=OUTBOX,
        )
