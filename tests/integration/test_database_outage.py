"""When the database runs out of connections (or is unreachable), the card form shows a calm
message in the customer's language and the log gets one line without SQL or card data; an outage
that escapes a handler (while the session is checked) becomes a calm toast, never a raw error."""

from __future__ import annotations

import logging

import pytest
import sqlalchemy as sa

from portal_app import db, i18n
from portal_app.backend_errors import OUTAGE_TOAST, calm_backend_exception_handler
from portal_app.billing.facades import portal as portal_facade
from portal_app.pages.portal.payment_method import PortalCardState
from portal_app.portal_app import app  # noqa: F401  (registers every page and state)
from tests.builders import card_form
from tests.reflex_states import run_handler, signed_in_portal_state


@pytest.fixture
def portal(engine, monkeypatch):
    yield from signed_in_portal_state(engine, monkeypatch, PortalCardState, language="es")


@pytest.fixture
def exhausted_engine(engine):
    """An engine on the same database whose only pooled connection is taken (pool timeout 0.1 s)."""
    busy = sa.create_engine(engine.url, poolclass=sa.pool.QueuePool, pool_size=1, max_overflow=0, pool_timeout=0.1)
    held = busy.connect()
    yield busy
    held.close()
    busy.dispose()


def test_the_card_form_says_calmly_that_the_database_is_busy_and_logs_it(portal, exhausted_engine, monkeypatch, caplog):
    monkeypatch.setattr(portal_facade, "get_engine", lambda: exhausted_engine)  # the session check still works
    caplog.set_level(logging.INFO)
    form = card_form("4242 4242 4242 4242")
    run_handler(PortalCardState.save_card, portal, form)
    assert portal.form_error == i18n.t("es", "service_unavailable")
    assert not portal.saving and portal.number_error == portal.expiry_error == portal.cvc_error == ""
    shown = " ".join(str(getattr(portal, name)) for name in ("form_error", "result_message"))
    assert "QueuePool" not in shown and "Timeout" not in shown and "SQL" not in shown
    outage_lines = [r.getMessage() for r in caplog.records if "database unavailable" in r.getMessage()]
    assert outage_lines and "TimeoutError" in outage_lines[0]
    assert not any("[SQL" in r.getMessage() or form["payment_method"] in r.getMessage() for r in caplog.records)


def test_an_unreachable_database_reads_the_same(portal, monkeypatch):
    def unreachable():
        raise sa.exc.OperationalError(
            "SELECT secret FROM t WHERE x = ?", ("4242424242424242",), Exception("connection refused")
        )

    monkeypatch.setattr(portal_facade, "get_engine", unreachable)
    run_handler(PortalCardState.save_card, portal, card_form())
    assert portal.form_error == i18n.t("es", "service_unavailable")


def test_an_outage_during_the_session_check_becomes_a_calm_toast(portal, exhausted_engine, monkeypatch, caplog):
    monkeypatch.setattr(db, "get_engine", lambda: exhausted_engine)
    with pytest.raises(sa.exc.TimeoutError) as raised:
        run_handler(PortalCardState.save_card, portal, card_form())
    spec = calm_backend_exception_handler(raised.value)
    text = str(spec)
    assert OUTAGE_TOAST in text and "QueuePool" not in text and "TimeoutError" not in text
    assert any("database unavailable" in r.getMessage() for r in caplog.records)
