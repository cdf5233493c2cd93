"""The plan_changed email in English and formal Spanish: now (charged today, credit) or scheduled."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from portal_app.billing.emails.render import render_email
from portal_app.billing.money import Money

pytestmark = pytest.mark.unit

BASE = {
    "merchant_name": "Acme Cloud",
    "subscriber_name": "Zoë",
    "plan_name": "Pro Monthly",
    "previous_plan": "Basic Monthly",
    "effective": datetime(2026, 2, 10, tzinfo=UTC),
    "next_renewal": datetime(2026, 2, 28, tzinfo=UTC),
    "next_amount": Money(4900, "USD"),
    "portal_url": "https://portal.example/p/abc",
}


def test_an_upgrade_names_the_charge_and_the_next_renewal():
    context = BASE | {"amount_due": Money(1285, "USD"), "invoice_number": "ACME-2026-000002"}
    subject, text, _ = render_email("plan_changed", "en", context)
    assert subject == "Acme Cloud: your plan is now Pro Monthly"
    assert "Your plan has changed from Basic Monthly to Pro Monthly." in text
    assert "We charge $12.85 today for the rest of the current period (invoice ACME-2026-000002)." in text
    assert "Your next renewal is on February 28, 2026 for $49.00." in text
    subject, text, _ = render_email("plan_changed", "es", context)
    assert subject == "Acme Cloud: su plan ahora es Pro Monthly"
    assert "Hoy le cobramos 12,85\xa0US$ por lo que queda del período actual" in text
    assert "Su próxima renovación es el 28 de febrero de 2026 por 49,00\xa0US$." in text


def test_a_scheduled_downgrade_says_when_and_that_it_can_be_undone():
    context = BASE | {"scheduled": True, "plan_name": "Lite", "effective": datetime(2026, 2, 28, tzinfo=UTC)}
    subject, text, _ = render_email("plan_changed", "en", context)
    assert subject == "Acme Cloud: your plan is changing to Lite"
    assert "Your plan changes from Basic Monthly to Lite on February 28, 2026." in text and "undo" in text
    _, text, _ = render_email("plan_changed", "es", context | {"credit": Money(643, "USD")})
    assert "Su plan cambia de Basic Monthly a Lite el 28 de febrero de 2026." in text
    assert "saldo a favor de 6,43\xa0US$" in text
