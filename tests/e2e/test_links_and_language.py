"""Links that stay true, in the reader's language: ?flow= on the lasting link opens its step, every
unusable link lands on an invalid-link page that says why (branded when the merchant is known), and
<html lang> and the title follow the page's language (portal, invalid page, signup)."""

from __future__ import annotations

import re

import pytest
from sqlmodel import Session, select

from portal_app import routes
from portal_app.billing import demo, portal_links, subscriptions
from portal_app.models import Invoice, Merchant, Plan, Subscriber, Subscription, utcnow
from tests.language_leaks import english_leaks, informal_spanish

from .conftest import (
    VIEWPORTS,
    assert_accessible,
    assert_no_horizontal_scroll,
    assert_tap_targets,
    make_subscriber,
    open_portal,
    screenshot,
)

pytestmark = pytest.mark.e2e


def _set_language(engine, subscriber_id: int, language: str) -> None:
    with Session(engine) as session:
        subscriber = session.get(Subscriber, subscriber_id)
        subscriber.language = language
        session.add(subscriber)
        session.commit()


def _document(page) -> tuple[str, str]:
    return tuple(page.evaluate("[document.documentElement.lang, document.title]"))


def _wait_lang(page, lang: str, title: str = "") -> None:
    """Until <html lang> (and the title, when given) say so: the effect runs after the state arrives."""
    page.wait_for_function(
        "([l, t]) => document.documentElement.lang === l && (!t || document.title === t)", arg=[lang, title]
    )


# --- ?flow= on the lasting link ------------------------------------------------------------


def _globex_token(server) -> str:
    return next(link.token for link in demo.demo_portal_links(server["engine"]) if link.name == "Globex Corporation")


def test_flow_payment_method_update_opens_the_card_form(server, page):
    page.goto(f"{server['base_url']}/portal/{_globex_token(server)}?flow=payment_method_update")
    page.get_by_label("Card number").wait_for()
    assert re.search(r"/portal/?\?flow=payment_method_update$", page.url), page.url


def test_flow_subscription_cancel_opens_the_cancel_dialog(server, page):
    page.goto(f"{server['base_url']}/portal/{_globex_token(server)}?flow=subscription_cancel")
    page.get_by_role("alertdialog").or_(page.get_by_role("dialog")).first.wait_for()


def test_flow_invoices_brings_the_invoice_history_into_view(server, page):
    page.goto(f"{server['base_url']}/portal/{_globex_token(server)}?flow=invoices")
    page.get_by_test_id("invoice-row").first.wait_for()
    page.wait_for_function(
        """() => { const el = document.getElementById('portal-invoices');
                   if (!el) return false; const r = el.getBoundingClientRect();
                   return r.top < window.innerHeight && r.bottom > 0; }""",
        timeout=15000,
    )


def test_a_hostile_flow_is_dropped_and_nothing_opens(server, page):
    page.goto(f"{server['base_url']}/portal/{_globex_token(server)}?flow=%3Cscript%3Ealert(1)%3C/script%3E")
    page.get_by_test_id("plan-name").wait_for()
    assert re.search(r"/portal/?$", page.url), page.url
    assert page.get_by_role("dialog").count() == 0 and page.get_by_label("Card number").count() == 0


# --- the invalid-link page, true for every case ------------------------------------------


def _invalid_case(server, case: str, lang: str) -> str:
    """Build the case as production does and return the URL a browser opens for it."""
    base, engine = server["base_url"], server["engine"]
    if case == "generic":
        return f"{base}/portal/not-a-real-token-{lang}"
    subscriber_id, token = make_subscriber(engine)
    _set_language(engine, subscriber_id, lang)
    with Session(engine, expire_on_commit=False) as session:
        subscriber = session.get(Subscriber, subscriber_id)
        if case == "revoked":
            portal_links.issue_portal_link(session, subscriber)  # the merchant regenerated it
        elif case == "deleted":
            sub = session.exec(select(Subscription).where(Subscription.subscriber_id == subscriber_id)).one()
            subscriptions.delete_subscription(
                session, sub.id, merchant_id=subscriber.merchant_id, actor="user:1", now=utcnow()
            )
        session.commit()
    if case in ("revoked", "deleted"):
        return f"{base}/portal/{token}"
    # ended: a session opened from the link, then the link replaced; a download is the next navigation.
    return token


def _context(browser, viewport: str, lang: str):
    locale = "es-ES" if lang == "es" else "en-US"
    context = browser.new_context(viewport=VIEWPORTS[viewport], locale=locale)
    page = context.new_page()
    page.viewport_name = viewport
    return context, page


EXPECTED = {
    ("generic", "en"): "This link is no longer valid",
    ("generic", "es"): "Este enlace ya no es válido",
    ("revoked", "en"): "This link was replaced by a newer one",
    ("revoked", "es"): "Este enlace se ha sustituido por uno más reciente",
    ("deleted", "en"): "This subscription was removed",
    ("deleted", "es"): "Esta suscripción se ha eliminado",
    ("ended", "en"): "Your session has ended",
    ("ended", "es"): "Su sesión ha finalizado",
}


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
@pytest.mark.parametrize("lang", ["en", "es"])
@pytest.mark.parametrize("case", ["generic", "revoked", "deleted", "ended"])
def test_the_invalid_link_page_says_why(server, browser, case, lang, viewport):
    base, engine = server["base_url"], server["engine"]
    target = _invalid_case(server, case, lang)
    context, page = _context(browser, viewport, lang)
    try:
        if case == "ended":
            open_portal(page, server, target)
            with Session(engine) as session:
                link = portal_links.check_portal_token(session, target)
                invoice_id = session.exec(select(Invoice.id).where(Invoice.subscriber_id == link.subscriber_id)).first()
                portal_links.issue_portal_link(session, session.get(Subscriber, link.subscriber_id))
                session.commit()
            page.goto(f"{base}{routes.invoice_pdf_url(invoice_id)}")
        else:
            page.goto(target)
        heading = page.get_by_test_id("invalid-heading")
        heading.filter(has_text=EXPECTED[(case, lang)]).wait_for()
        _wait_lang(page, lang, "Enlace no válido" if lang == "es" else "Link not valid")
        doc_lang, title = _document(page)
        assert doc_lang == lang and title == ("Enlace no válido" if lang == "es" else "Link not valid")
        # The address holds no secret: only the reason, the merchant's slug and a language.
        assert "token" not in page.url and (case == "generic" or f"reason={case}" in page.url)
        body = page.evaluate("document.body.innerText")
        if case == "generic":
            assert "Acme" not in body  # nothing is known of an unknown link: no merchant named
        else:
            assert "Acme Fitness" in body and "m=acme" in page.url
            mail = page.get_by_test_id("invalid-support-email")
            assert mail.get_attribute("href") == "mailto:support@acme.example"
        form = page.get_by_role("button", name="Envíenme un enlace nuevo" if lang == "es" else "Send me a new link")
        if case == "deleted":
            # No promise of a new link: only the merchant can help.
            assert form.count() == 0
            assert "new link" not in body.lower() and "enlace nuevo" not in body.lower()
        else:
            assert form.count() == 1
        if lang == "es":
            assert english_leaks(body, allow=("Acme Fitness",)) == [] and informal_spanish(body) == []
        screenshot(page, f"invalid-{case}-{lang}")
        assert_accessible(page)
        assert_no_horizontal_scroll(page)
        assert_tap_targets(page)
    finally:
        context.close()


def test_the_new_link_answer_is_the_same_for_known_and_unknown_addresses(server, page):
    engine = server["engine"]
    subscriber_id, token = make_subscriber(engine)
    with Session(engine) as session:
        known = session.get(Subscriber, subscriber_id).email
        portal_links.issue_portal_link(session, session.get(Subscriber, subscriber_id))
        session.commit()
    answers = []
    for email in (known, "nobody-at-all@example.com"):
        page.goto(f"{server['base_url']}/portal/{token}")
        page.get_by_test_id("invalid-heading").wait_for()
        page.get_by_label("Email address").fill(email)
        page.get_by_role("button", name="Send me a new link").click()
        answers.append(page.get_by_test_id("new-link-answer").inner_text())
    assert answers[0] == answers[1]
    assert "If this email address belongs to an active subscription" in answers[0]


# --- <html lang> and the title follow the page's language --------------------------------


def test_portal_document_language_follows_the_subscriber_and_the_switch(server, page):
    subscriber_id, token = make_subscriber(server["engine"])
    _set_language(server["engine"], subscriber_id, "es")
    open_portal(page, server, token)
    _wait_lang(page, "es", "Su suscripción")
    assert _document(page) == ("es", "Su suscripción")
    page.get_by_role("combobox", name="Idioma").click()
    page.get_by_role("option", name="English").click()
    _wait_lang(page, "en", "Your subscription")
    assert _document(page) == ("en", "Your subscription")


def test_signup_document_language_follows_the_page(server, browser):
    with Session(server["engine"]) as session:
        merchant = session.exec(select(Merchant).where(Merchant.slug == demo.MERCHANT_SLUG)).one()
        plan = session.exec(select(Plan).where(Plan.merchant_id == merchant.id, Plan.name == "Basic Monthly")).one()
        url = f"{server['base_url']}/signup/{merchant.slug}/{plan.id}"
    context, page = _context(browser, "desktop", "en")
    try:
        page.goto(url)
        _wait_lang(page, "en", "Subscribe to Basic Monthly")
        assert _document(page) == ("en", "Subscribe to Basic Monthly")
        page.goto(f"{url}?lang=es")
        _wait_lang(page, "es", "Suscríbase a Basic Monthly")
    finally:
        context.close()
