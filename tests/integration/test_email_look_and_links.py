"""Emails wear the merchant's look and lead where the customer must act:
- the logo as an inline CID image (multipart/related inside multipart/alternative, delivered over a
  real SMTP server on 127.0.0.1), the plain text unchanged, no logo -> no image at all;
- the brand colour on the button and links;
- failed-payment and card-expiry emails open the portal's card form (?flow=payment_method_update),
  invitations and new links open the portal plainly;
- every kind in formal Spanish with no English, the support email as the way to reach the merchant."""

from __future__ import annotations

import email
import email.policy
import html
import io
import re
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from PIL import Image
from sqlmodel import Session, select

from portal_app.billing import brand
from portal_app.billing.card_expiry import send_card_expiring_emails
from portal_app.billing.emails.logo import DISPLAY_MAX, email_logo
from portal_app.billing.emails.outbox import deliver_queued_emails, send_email
from portal_app.billing.emails.render import EMAIL_KINDS, render_email
from portal_app.billing.emails.smtp import build_message
from portal_app.billing.money import Money
from portal_app.billing.notify import send_new_link
from portal_app.billing.runs import run_billing
from portal_app.models import EmailMessage, Merchant, PaymentMethod, Subscriber
from portal_app.settings import Settings
from tests.builders import JAN31, add_card, emails_of, jpeg_logo, png_logo, rows, subscribed_world
from tests.language_leaks import english_leaks, informal_spanish
from tests.smtp_servers import running

PORTAL_URL = "https://portal.example/p/abc123"
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
    "previous_plan": "Pro",
    "effective": datetime(2026, 2, 10, tzinfo=UTC),
    "next_renewal": datetime(2026, 2, 28, tzinfo=UTC),
    "next_amount": Money(4900, "EUR"),
    "pause_starts": datetime(2026, 2, 28, tzinfo=UTC),  # kinds_pause.py
    "resume_at": datetime(2026, 3, 15, tzinfo=UTC),
    "trial_end": datetime(2026, 2, 14, tzinfo=UTC),  # kinds_trial.py
    "cycles": 3,  # kinds_retention.py
    "percent": 20,
    "code": "042917",  # kinds_step_up.py
}
OUTBOX = Settings(smtp_host="")
PURPLE = "#6E3FC3"


class Collecting:
    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
        return "250 Message accepted"


def _merchant(session, **kw) -> tuple[Merchant, Subscriber]:
    merchant = Merchant(name="Acme Cloud", slug="acme", invoice_prefix="ACME", support_email="help@acme.example", **kw)
    session.add(merchant)
    session.flush()
    subscriber = Subscriber(merchant_id=merchant.id, name="Zoë Ñúñez", email="zoe@example.com", language="es")
    session.add(subscriber)
    session.commit()
    return merchant, subscriber


def _send(session, merchant, subscriber, settings, kind="payment_failed", language="en") -> EmailMessage:
    row = send_email(
        session,
        merchant=merchant,
        to_address=subscriber.email,
        kind=kind,
        language=language,
        context=CONTEXT,
        subscriber_id=subscriber.id,
        settings=settings,
    )
    session.commit()
    return row


def _parts(message) -> list[str]:
    return [part.get_content_type() for part in message.walk()]


@pytest.mark.parametrize(("logo", "subtype"), [(png_logo(), "png"), (jpeg_logo(), "jpeg")], ids=["png", "jpeg"])
def test_the_logo_travels_inline_as_a_cid_image_over_smtp(engine, session, logo, subtype):
    merchant, subscriber = _merchant(session, logo_png=logo, logo_content_type=f"image/{subtype}")
    with running() as start:
        handler = Collecting()
        settings = start(handler)
        row = _send(session, merchant, subscriber, settings)
        assert deliver_queued_emails(engine, settings=settings) == 1
    (message,) = handler.messages
    assert _parts(message) == [
        "multipart/alternative",
        "text/plain",
        "multipart/related",
        "text/html",
        f"image/{subtype}",
    ]
    plain = message.get_body(preferencelist=("plain",)).get_content()
    assert plain.replace("\r\n", "\n").strip() == row.body_text.strip()  # the plain text is unchanged
    assert "cid:" not in plain
    related = next(part for part in message.walk() if part.get_content_type() == "multipart/related")
    body_html = related.get_body(preferencelist=("html",)).get_content()
    (image,) = [part for part in related.iter_parts() if part.get_content_maintype() == "image"]
    cid = image["Content-ID"].strip("<>")
    assert f'src="cid:{cid}"' in body_html and 'alt="Acme Cloud"' in body_html
    assert image.get_content_disposition() == "inline"
    with Image.open(io.BytesIO(image.get_content())) as decoded:
        assert decoded.width <= 2 * DISPLAY_MAX[0] and decoded.height <= 2 * DISPLAY_MAX[1]
    width, height = (int(v) for v in re.search(r'width="(\d+)" height="(\d+)"', body_html).groups())
    assert width <= DISPLAY_MAX[0] and height <= DISPLAY_MAX[1]
    assert abs(width / height - decoded.width / decoded.height) < 0.05  # not distorted


def test_no_logo_means_no_image_and_no_related_part(session):
    merchant, subscriber = _merchant(session)
    row = _send(session, merchant, subscriber, OUTBOX)
    assert "<img" not in row.body_html and "cid:" not in row.body_html
    assert ">Acme Cloud</p>" in row.body_html  # the name heads the email instead
    message = build_message(row, merchant, OUTBOX)
    assert _parts(message) == ["multipart/alternative", "text/plain", "text/html"]


def test_an_unreadable_logo_is_left_out(session):
    merchant, subscriber = _merchant(session, logo_png=b"\x89PNG not really")
    row = _send(session, merchant, subscriber, OUTBOX)
    assert "<img" not in row.body_html and email_logo(merchant.logo_png) is None


def test_a_logo_removed_or_replaced_before_delivery_never_leaves_a_broken_image(session):
    merchant, subscriber = _merchant(session, logo_png=png_logo())
    row = _send(session, merchant, subscriber, OUTBOX)
    assert "cid:logo-" in row.body_html
    for later in (None, jpeg_logo()):
        merchant.logo_png = later
        message = build_message(row, merchant, OUTBOX)
        assert _parts(message) == ["multipart/alternative", "text/plain", "text/html"]
        body_html = message.get_body(preferencelist=("html",)).get_content()
        assert "<img" not in body_html and "cid:" not in body_html and ">Acme Cloud</p>" in body_html


def test_the_brand_colour_paints_the_button_and_links(session):
    merchant, subscriber = _merchant(session, brand_color=PURPLE)
    row = _send(session, merchant, subscriber, OUTBOX)
    button = re.search(r'<a href="[^"]+" style="[^"]*display:inline-block;[^"]*"', row.body_html).group(0)
    assert f"background:{PURPLE}" in button and "color:#ffffff" in button
    assert f'style="color:{PURPLE};word-break:break-all;"' in row.body_html  # the copyable link
    assert f'href="mailto:help@acme.example" style="color:{PURPLE};' in row.body_html
    assert brand.contrast_ratio(PURPLE, "#FFFFFF") >= brand.MIN_CONTRAST
    _, _, house = render_email("payment_failed", "en", {"merchant_name": "Acme", **CONTEXT})
    assert f"background:{brand.DEFAULT_COLOR}" in house and PURPLE not in house
    _, _, broken = render_email("payment_failed", "en", {"merchant_name": "Acme", **CONTEXT}, brand_color="red")
    assert f"background:{brand.DEFAULT_COLOR}" in broken


def _hrefs(body_html: str) -> set[str]:
    return {html.unescape(h) for h in re.findall(r'href="(https?://[^"]+)"', body_html)}


def test_failed_payment_emails_open_the_card_form(engine, gateway):
    world, _ = subscribed_world(engine, gateway)
    add_card(world, gateway, "4000000000000341", now=JAN31)  # declines every charge
    run_billing(engine, now=JAN31.replace(month=2, day=28) + timedelta(minutes=3), gateway=gateway)
    (failed,) = emails_of(world, "payment_failed")
    (link,) = _hrefs(failed.body_html)
    assert link.endswith("?flow=payment_method_update") and "/portal/" in link
    assert f"{link}\n" in failed.body_text


def test_card_expiry_emails_open_the_card_form(engine, gateway):
    world, _ = subscribed_world(engine, gateway)
    (card,) = rows(engine, PaymentMethod, PaymentMethod.subscriber_id == world.subscriber_id)
    assert send_card_expiring_emails(engine, now=datetime(card.exp_year, card.exp_month, 10, tzinfo=UTC)) == 1
    (warning,) = emails_of(world, "card_expiring")
    (link,) = _hrefs(warning.body_html)
    assert link.endswith("?flow=payment_method_update") and f"{link}\n" in warning.body_text


def test_new_link_emails_open_the_portal_plainly(engine, gateway):
    world, _ = subscribed_world(engine, gateway)
    with Session(engine) as session:
        subscriber = session.get(Subscriber, world.subscriber_id)
        assert send_new_link(session, email=subscriber.email, now=JAN31) == 1
        session.commit()
    (new_link,) = emails_of(world, "new_link")
    (link,) = _hrefs(new_link.body_html)
    assert "?flow=" not in link and "/portal/" in link


def _visible_text(body_html: str) -> str:
    body = re.sub(r"<(title|style)[^>]*>.*?</\1>", " ", body_html, flags=re.S)
    return html.unescape(re.sub(r"<[^>]+>", " ", body))


# Data in the emails that is legitimately not Spanish: names, plan, brand, invoice number, links.
DATA = ("Acme Cloud", "Zoë Ñúñez", "Pro", "Visa", "ACME-2026-000001", PORTAL_URL)


@pytest.mark.parametrize("kind", EMAIL_KINDS)
def test_every_email_reads_formal_spanish_and_names_the_support_address(session, kind):
    merchant, subscriber = _merchant(session, logo_png=png_logo(), brand_color=PURPLE)
    row = _send(session, merchant, subscriber, OUTBOX, kind=kind, language="es")
    for text in (row.subject, row.body_text, _visible_text(row.body_html)):
        assert english_leaks(text, allow=DATA) == [], text
        assert informal_spanish(text, allow=DATA) == [], text
    assert "¿Tiene alguna pregunta? Escríbanos a help@acme.example." in row.body_text
    assert 'href="mailto:help@acme.example"' in row.body_html
    english = _send(session, merchant, subscriber, OUTBOX, kind=kind, language="en")
    assert english_leaks(english.body_text, allow=DATA)  # the detector does see English


def test_payment_failed_in_spanish_from_a_real_run_has_no_english(engine, gateway):
    world, _ = subscribed_world(engine, gateway)
    with Session(engine) as session, session.begin():
        session.execute(sa.update(Subscriber).values(language="es"))
    add_card(world, gateway, "4000000000000341", now=JAN31)
    run_billing(engine, now=JAN31.replace(month=2, day=28) + timedelta(minutes=3), gateway=gateway)
    (failed,) = emails_of(world, "payment_failed")
    with Session(engine) as session:
        merchant = session.exec(select(Merchant)).one()
        subscriber = session.get(Subscriber, world.subscriber_id)
    # Data: the names, the link, and babel's Spanish sign for US dollars ("29,00 US$").
    data = (merchant.name, subscriber.name, "US$", *_hrefs(failed.body_html))
    assert "29,00\xa0US$" in failed.body_text
    for text in (failed.subject, failed.body_text, _visible_text(failed.body_html)):
        assert english_leaks(text, allow=data) == [], text
        assert informal_spanish(text, allow=data) == [], text
