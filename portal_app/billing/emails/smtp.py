"""One email row to one SMTP server: the MIME message (with a Message-ID stable per row), the
conversation, and what a failure means (try again later, or never) in words fit for the merchant."""

from __future__ import annotations

import dataclasses
import re
import smtplib
import socket
import ssl
from email.message import EmailMessage as MimeMessage
from email.utils import formataddr, formatdate

from portal_app.billing.emails.layout import logo_cid, without_logo
from portal_app.billing.emails.logo import email_logo
from portal_app.models import EmailMessage, Merchant
from portal_app.settings import Settings

SMTP_TIMEOUT_SECONDS = 15
# The server is down, unknown, silent or hung up (smtplib's errors are OSErrors too: these, not all).
_UNREACHABLE = (ConnectionError, TimeoutError, socket.gaierror, smtplib.SMTPServerDisconnected)
_ADDRESS = re.compile(r"[^\s<>()\[\]'\",;:]+@([A-Za-z0-9.-]+)")


def message_id(row: EmailMessage, settings: Settings) -> str:
    """The same Message-ID on every attempt of one row, so a receiver can drop the duplicate that an
    at-least-once retry may send (an attempt cut off after the server took the message)."""
    domain = settings.email_from.rpartition("@")[2] or "localhost"
    created = int(row.created_at.timestamp() * 1_000_000)
    return f"<email-{row.id}.{row.merchant_id}.{created}@{domain}>"


def build_message(row: EmailMessage, merchant: Merchant, settings: Settings) -> MimeMessage:
    message = MimeMessage()
    message["Subject"] = row.subject
    message["From"] = formataddr((" ".join(merchant.name.split()), settings.email_from))
    message["To"] = row.to_address
    if merchant.support_email:
        message["Reply-To"] = merchant.support_email
    message["Date"] = formatdate(localtime=False, usegmt=True)
    message["Message-ID"] = message_id(row, settings)
    message.set_content(row.body_text)
    if row.body_html:
        attach_html(message, row.body_html, merchant)
    return message


def attach_html(message: MimeMessage, body_html: str, merchant: Merchant) -> None:
    """The HTML alternative; with the logo it names, as multipart/related with the image inline.

    multipart/alternative [text/plain, multipart/related [text/html, image/*; Content-ID]]: clients
    show the logo without fetching anything. If the merchant's logo is not the one the email was
    rendered with (removed or replaced since), the name takes its place: never a broken image.
    """
    cid = logo_cid(body_html)
    logo = email_logo(merchant.logo_png) if cid else None
    if cid and (logo is None or logo.cid != cid):
        body_html, cid = without_logo(body_html, merchant.name), ""
    message.add_alternative(body_html, subtype="html")
    if cid and logo is not None:
        html_part = message.get_payload()[-1]
        html_part.add_related(
            logo.data,
            maintype="image",
            subtype=logo.subtype,
            cid=f"<{logo.cid}>",
            disposition="inline",
            filename=f"logo.{'jpg' if logo.subtype == 'jpeg' else 'png'}",
        )


def deliver(message: MimeMessage, settings: Settings) -> None:
    """Hand the message to the configured SMTP server (implicit TLS on port 465, else STARTTLS)."""
    tls = ssl.create_default_context()
    if settings.smtp_port == 465:
        client: smtplib.SMTP = smtplib.SMTP_SSL(
            settings.smtp_host, settings.smtp_port, timeout=SMTP_TIMEOUT_SECONDS, context=tls
        )
    else:
        client = smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=SMTP_TIMEOUT_SECONDS)
    with client:
        if settings.smtp_starttls and settings.smtp_port != 465:
            client.starttls(context=tls)
        if settings.smtp_username:
            client.login(settings.smtp_username, settings.smtp_password)
        client.send_message(message)


@dataclasses.dataclass(frozen=True)
class Failure:
    """Why one attempt failed: `permanent` (the server refused this email for good: no retry) and
    `error`, for the row and the log: the exception's kind, the SMTP code and the server's words, with
    addresses reduced to their domain (the row already names its recipient)."""

    permanent: bool
    error: str
    # The server could not be reached at all: the rest of this pass would only wait on it too.
    unreachable: bool = False


def _text(value) -> str:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    return " ".join(str(value).split())


def without_addresses(text: str) -> str:
    return _ADDRESS.sub(lambda m: f"…@{m.group(1)}", text)


def classify(exc: BaseException) -> Failure:
    """A 5xx refusal of the recipient or of the message is permanent; everything else (4xx, a server
    that is down or slow, TLS, a login refused: configuration a person can fix) is tried again."""
    name = type(exc).__name__
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        code, reply = next(iter(exc.recipients.values()), (0, b""))
        permanent = 500 <= code < 600
        return Failure(permanent, _cut(f"{name}: {code} {without_addresses(_text(reply))}"))
    if isinstance(exc, smtplib.SMTPResponseException):
        code = exc.smtp_code
        permanent = isinstance(exc, smtplib.SMTPDataError) and 500 <= code < 600
        unreachable = isinstance(exc, smtplib.SMTPConnectError)
        return Failure(permanent, _cut(f"{name}: {code} {without_addresses(_text(exc.smtp_error))}"), unreachable)
    unreachable = isinstance(exc, _UNREACHABLE)
    detail = without_addresses(_text(exc))
    return Failure(False, _cut(f"{name}: {detail}" if detail else name), unreachable)


def _cut(text: str) -> str:
    return text[:500]
