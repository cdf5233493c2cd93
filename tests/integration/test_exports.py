"""CSV exports: the console's filters give the screen's rows, another merchant's rows never appear,
typed text cannot become a spreadsheet formula, amounts are exact major units beside the currency,
the download route is the signed-in merchant's only and checks every parameter, and 100k invoices
stream in the memory of one batch."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from starlette.testclient import TestClient

from portal_app import db, routes
from portal_app.api import build_api
from portal_app.billing import accounts, exports, sessions
from portal_app.billing.facades.console import subscribers as subscribers_facade
from portal_app.billing.search_text import subscriber_search_text
from portal_app.models import Invoice, Merchant, Plan, Subscriber, Subscription
from portal_app.pages.console.subscribers import ConsoleSubscribersState
from portal_app.portal_app import app  # noqa: F401  (registers every page and state)
from tests.reflex_states import live_state, run_handler

pytestmark = pytest.mark.integration
T0 = datetime(2026, 1, 10, 9, 30, tzinfo=UTC)


def _insert(conn, model, rows):
    table = model.__table__
    if isinstance(rows, dict):
        return conn.execute(sa.insert(table).values(**rows).returning(table.c.id)).scalar_one()
    return list(conn.execute(sa.insert(table).returning(table.c.id, sort_by_parameter_order=True), rows).scalars())


def _merchant(conn, slug: str, currency: str = "EUR") -> dict:
    m = _insert(
        conn, Merchant, {"name": slug.title(), "slug": slug, "invoice_prefix": slug.upper()[:6], "created_at": T0}
    )
    plans = {
        name: _insert(
            conn,
            Plan,
            {
                "merchant_id": m,
                "name": name,
                "amount_minor": amount,
                "currency": currency,
                "interval": "month",
                "interval_count": 1,
                "cancellation_policy": "at_period_end",
                "active": True,
                "created_at": T0,
            },
        )
        for name, amount in (("Basic", 2900), ("=Pro", 4950))
    }
    return {"id": m, "plans": plans, "currency": currency}


def _subscriber(conn, merchant: dict, name: str, email: str, plan: str, status: str) -> dict:
    sid = _insert(
        conn,
        Subscriber,
        {
            "merchant_id": merchant["id"],
            "name": name,
            "email": email,
            "language": "en",
            "created_at": T0,
            # A Core insert skips the mapper event that keeps it (models.py): written as it would be.
            "search_text": subscriber_search_text(name, email),
        },
    )
    sub = _insert(
        conn,
        Subscription,
        {
            "merchant_id": merchant["id"],
            "subscriber_id": sid,
            "plan_id": merchant["plans"][plan],
            "status": status,
            "anchor_at": T0,
            "current_period_start": T0,
            "current_period_end": T0 + timedelta(days=31),
            "created_at": T0,
        },
    )
    return {"id": sid, "subscription": sub}


def _invoice(conn, merchant: dict, who: dict, *, status: str, total: int, finalized: datetime | None, number=None):
    return _insert(
        conn,
        Invoice,
        {
            "merchant_id": merchant["id"],
            "subscriber_id": who["id"],
            "subscription_id": who["subscription"],
            "number": number,
            "status": status,
            "currency": merchant["currency"],
            "subtotal_minor": total - total // 5,
            "tax_minor": total // 5,
            "total_minor": total,
            "tax_rate_bp": 2100,
            "period_start": T0,
            "period_end": T0 + timedelta(days=31),
            "billing_name": "-cmd|' /C calc'!A0",
            "created_at": T0,
            "finalized_at": finalized,
            "due_at": finalized,
            "paid_at": finalized if status == "paid" else None,
        },
    )


@pytest.fixture
def world(any_engine, monkeypatch):
    monkeypatch.setattr(db, "get_engine", lambda: any_engine)
    with any_engine.begin() as conn:
        a, b = _merchant(conn, "acme"), _merchant(conn, "bravo", currency="JPY")
        people = {
            "zoe": _subscriber(conn, a, "Zoë Ñúñez", "zoe@example.com", "Basic", "active"),
            "evil": _subscriber(conn, a, '=HYPERLINK("http://evil")', "@evil@example.com", "=Pro", "past_due"),
            "tab": _subscriber(conn, a, "\tTabby", "+tab@example.com", "Basic", "canceled"),
            "bob": _subscriber(conn, b, "Bob Bravo", "bob@bravo.example", "Basic", "active"),
        }
        invoices = {
            "zoe_paid": _invoice(
                conn, a, people["zoe"], status="paid", total=2900, finalized=T0, number="ACME-2026-000001"
            ),
            "zoe_open": _invoice(
                conn,
                a,
                people["zoe"],
                status="open",
                total=2900,
                finalized=T0 + timedelta(days=31),
                number="ACME-2026-000002",
            ),
            "evil_draft": _invoice(conn, a, people["evil"], status="draft", total=4950, finalized=None),
            "bob_paid": _invoice(conn, b, people["bob"], status="paid", total=2900, finalized=T0, number="=BRAVO-1"),
        }
    return {"engine": any_engine, "a": a, "b": b, "people": people, "invoices": invoices}


def _rows(chunks) -> list[dict]:
    text = "".join(chunks)
    return list(csv.DictReader(io.StringIO(text.removeprefix("\ufeff"))))


def test_subscribers_export_has_the_screens_rows_for_every_filter(world):
    a = world["a"]
    for filters in (
        {},
        {"query": "example.com"},
        {"query": "ZOË"},
        {"status": "past_due"},
        {"plan_id": a["plans"]["Basic"]},
        {"plan_id": a["plans"]["Basic"], "status": "canceled"},
        {"query": "nobody"},
    ):
        screen = subscribers_facade.search_subscribers(merchant_id=a["id"], page_size=100, **filters).rows
        exported = _rows(exports.iter_subscribers_csv(merchant_id=a["id"], batch_size=2, **filters))
        assert [int(r["subscriber_id"]) for r in exported] == [r.subscriber_id for r in screen], filters
        assert [r["status"] for r in exported] == [r.status for r in screen], filters
        assert [r["plan"].removeprefix("'") for r in exported] == [r.plan_name for r in screen], filters


def test_subscribers_export_columns_and_tenancy(world):
    a, b, people = world["a"], world["b"], world["people"]
    text = "".join(exports.iter_subscribers_csv(merchant_id=a["id"]))
    rows = _rows([text])
    assert tuple(rows[0]) == exports.SUBSCRIBER_COLUMNS
    assert "Bob" not in text and "bravo" not in text
    zoe = next(r for r in rows if r["subscriber_id"] == str(people["zoe"]["id"]))
    assert zoe["name"] == "Zoë Ñúñez" and zoe["created_at"] == "2026-01-10T09:30:00Z"
    assert zoe["current_period_end"] == "2026-02-10T09:30:00Z" == zoe["next_renewal_at"]
    assert zoe["cancel_at_period_end"] == "false" and zoe["plan"] == "Basic"
    # Another merchant's plan is a valid id that matches nothing here.
    assert _rows(exports.iter_subscribers_csv(merchant_id=a["id"], plan_id=b["plans"]["Basic"])) == []


def test_typed_text_never_starts_a_formula(world):
    a, people = world["a"], world["people"]
    rows = {r["subscriber_id"]: r for r in _rows(exports.iter_subscribers_csv(merchant_id=a["id"]))}
    evil, tab = rows[str(people["evil"]["id"])], rows[str(people["tab"]["id"])]
    assert evil["name"] == '\'=HYPERLINK("http://evil")' and evil["email"] == "'@evil@example.com"
    assert evil["plan"] == "'=Pro"
    assert tab["name"] == "'\tTabby" and tab["email"] == "'+tab@example.com"
    invoices = _rows(exports.iter_invoices_csv(merchant_id=a["id"]))
    assert {r["billing_name"] for r in invoices} == {"'-cmd|' /C calc'!A0"}
    for value in ("=1+1", "+1", "-1", "@SUM(A1)", "\t=1", "\r=1"):
        assert exports.safe_text(value) == "'" + value
    assert exports.safe_text("Zoë") == "Zoë" and exports.safe_text("") == ""


def test_invoices_export_amounts_dates_filters_and_tenancy(world):
    a, b, people, inv = world["a"], world["b"], world["people"], world["invoices"]
    rows = _rows(exports.iter_invoices_csv(merchant_id=a["id"], batch_size=1))
    assert tuple(rows[0]) == exports.INVOICE_COLUMNS
    assert [int(r["invoice_id"]) for r in rows] == [inv["zoe_paid"], inv["zoe_open"], inv["evil_draft"]]
    paid = rows[0]
    assert (paid["currency"], paid["subtotal"], paid["tax"], paid["total"]) == ("EUR", "23.20", "5.80", "29.00")
    assert paid["tax_rate_percent"] == "21.00" and paid["number"] == "ACME-2026-000001"
    assert paid["subscriber_name"] == "Zoë Ñúñez" and paid["plan"] == "Basic"
    assert paid["finalized_at"] == "2026-01-10T09:30:00Z" and paid["paid_at"] == paid["finalized_at"]
    assert rows[2]["status"] == "draft" and rows[2]["finalized_at"] == "" and rows[2]["number"] == ""
    bravo = _rows(exports.iter_invoices_csv(merchant_id=b["id"]))
    assert [r["total"] for r in bravo] == ["2900"] and bravo[0]["currency"] == "JPY"  # no minor digits
    assert bravo[0]["number"] == "'=BRAVO-1"

    def ids(**filters):
        return [int(r["invoice_id"]) for r in _rows(exports.iter_invoices_csv(merchant_id=a["id"], **filters))]

    assert ids(status="paid") == [inv["zoe_paid"]]
    assert ids(subscriber_id=people["evil"]["id"]) == [inv["evil_draft"]]
    assert ids(subscriber_id=str(people["zoe"]["id"]), status="open") == [inv["zoe_open"]]
    assert ids(subscription_id=people["zoe"]["subscription"]) == [inv["zoe_paid"], inv["zoe_open"]]
    assert ids(plan_id=a["plans"]["=Pro"]) == [inv["evil_draft"]]
    assert ids(finalized_from="2026-01-10", finalized_to="2026-01-10") == [inv["zoe_paid"]]  # that whole day
    assert ids(finalized_from="2026-01-11") == [inv["zoe_open"]]
    assert ids(finalized_to="2026-01-10T09:30:00Z") == []  # an instant is exclusive
    assert ids(finalized_from=T0, finalized_to=T0 + timedelta(seconds=1)) == [inv["zoe_paid"]]
    # Another merchant's ids are valid ids that match nothing.
    assert ids(subscriber_id=people["bob"]["id"]) == []
    assert ids(plan_id=b["plans"]["Basic"]) == []
    assert ids(subscription_id=people["bob"]["subscription"]) == []


@pytest.mark.parametrize(
    "filters",
    [
        {"status": "paid; DROP TABLE invoice"},
        {"status": "active"},
        {"subscriber_id": "-1"},
        {"subscriber_id": "0"},
        {"subscriber_id": "1.5"},
        {"plan_id": "١٢"},
        {"subscription_id": True},
        {"subscriber_id": str(2**70)},
        {"finalized_from": "yesterday"},
        {"finalized_from": "2026-13-01"},
        {"finalized_to": "2026-02-30"},
        {"finalized_from": "2026-02-01", "finalized_to": "2026-01-01"},
        {"finalized_from": 20260101},
    ],
)
def test_bad_invoice_filters_are_refused_before_any_row_is_read(filters):
    with pytest.raises(exports.ExportError):
        exports.iter_invoices_csv(merchant_id=1, **filters)  # raises at the call, not at the first chunk


@pytest.mark.parametrize(
    "filters", [{"query": "x" * 101}, {"query": ["a"]}, {"status": "paid"}, {"plan_id": "x"}, {"plan_id": "-3"}]
)
def test_bad_subscriber_filters_are_refused(filters):
    with pytest.raises(exports.ExportError):
        exports.iter_subscribers_csv(merchant_id=1, **filters)


def test_query_string_filters_refuse_unknown_and_repeated_names():
    assert (
        exports.invoice_filters_from_query([("status", "paid"), ("format", "csv")], ignore=("format",)).status == "paid"
    )
    empty = exports.invoice_filters_from_query([("status", ""), ("finalized_from", ""), ("plan_id", "")])
    assert empty == exports.InvoiceFilters()  # an empty form field is no filter
    for bad in ([("merchant_id", "2")], [("status", "paid"), ("status", "open")], [("format", "csv")]):
        with pytest.raises(exports.ExportError):
            exports.invoice_filters_from_query(bad)
    with pytest.raises(exports.ExportError):
        exports.subscriber_filters_from_query({"merchant_id": "2"})


# --- the download route --------------------------------------------------------------------------


@pytest.fixture
def signed_in(world):
    with db.session_scope() as session:
        out = {}
        for key, slug in (("a", "acme"), ("b", "bravo")):
            merchant_id = world[key]["id"]
            user = accounts.add_user(
                session, merchant_id=merchant_id, email=f"owner@{slug}.example", password="long enough password"
            )
            out[key] = sessions.open_console_session(session, user)
    return out


def test_the_route_streams_the_signed_in_merchants_csv_only(world, signed_in):
    client = TestClient(build_api(), base_url="http://portal.test")
    url = routes.console_invoices_csv_url(status="paid")
    assert client.get(url).status_code == 401
    client.cookies.set(routes.CONSOLE_SESSION_COOKIE, "forged")
    assert client.get(url).status_code == 401
    client.cookies.set(routes.CONSOLE_SESSION_COOKIE, signed_in["a"])
    resp = client.get(url)
    assert resp.status_code == 200 and resp.headers["cache-control"] == "no-store"
    assert resp.headers["content-type"] == "text/csv; charset=utf-8"
    assert resp.headers["content-disposition"].startswith('attachment; filename="invoices-')
    assert resp.headers["content-disposition"].endswith('.csv"')
    assert resp.content.startswith("\ufeff".encode())  # Excel reads it as UTF-8
    rows = _rows([resp.content.decode("utf-8")])
    assert [int(r["invoice_id"]) for r in rows] == [world["invoices"]["zoe_paid"]]
    # Merchant B's filter ids from merchant A's session: nothing of B's.
    bob = world["people"]["bob"]
    for query in (
        {"subscriber_id": bob["id"]},
        {"subscription_id": bob["subscription"]},
        {"plan_id": world["b"]["plans"]["Basic"]},
    ):
        resp = client.get(routes.console_invoices_csv_url(**query))
        assert resp.status_code == 200 and _rows([resp.text]) == [], query
    resp = client.get(routes.console_subscribers_csv_url(plan_id=world["b"]["plans"]["Basic"]))
    assert resp.status_code == 200 and _rows([resp.text]) == []
    resp = client.get(routes.console_subscribers_csv_url(query="úñez", status="active"))
    assert [r["name"] for r in _rows([resp.text])] == ["Zoë Ñúñez"]
    assert "Bob" not in client.get(routes.API_CONSOLE_EXPORT_SUBSCRIBERS).text
    client.cookies.set(routes.CONSOLE_SESSION_COOKIE, signed_in["b"])
    assert "Bob Bravo" in client.get(routes.API_CONSOLE_EXPORT_SUBSCRIBERS).text


@pytest.mark.parametrize(
    "path",
    [
        f"{routes.API_CONSOLE_EXPORT_INVOICES}?status=nope",
        f"{routes.API_CONSOLE_EXPORT_INVOICES}?subscriber_id=abc",
        f"{routes.API_CONSOLE_EXPORT_INVOICES}?finalized_from=2026-99-01",
        f"{routes.API_CONSOLE_EXPORT_INVOICES}?merchant_id=2",
        f"{routes.API_CONSOLE_EXPORT_INVOICES}?status=paid&status=open",
        f"{routes.API_CONSOLE_EXPORT_SUBSCRIBERS}?status=paid",
        f"{routes.API_CONSOLE_EXPORT_SUBSCRIBERS}?plan_id=0",
        f"{routes.API_CONSOLE_EXPORT_SUBSCRIBERS}?query=" + "x" * 101,
    ],
)
def test_the_route_answers_400_to_a_bad_parameter(world, signed_in, path):
    client = TestClient(build_api(), base_url="http://portal.test")
    client.cookies.set(routes.CONSOLE_SESSION_COOKIE, signed_in["a"])
    resp = client.get(path)
    assert resp.status_code == 400 and "error" in resp.json() and "text/csv" not in resp.headers["content-type"]


def test_the_route_refuses_cross_site_requests(world, signed_in):
    client = TestClient(build_api(), base_url="http://portal.test")
    client.cookies.set(routes.CONSOLE_SESSION_COOKIE, signed_in["a"])
    resp = client.get(routes.API_CONSOLE_EXPORT_INVOICES, headers={"sec-fetch-site": "cross-site"})
    assert resp.status_code == 403


def test_the_subscribers_pages_export_link_carries_the_filters_on_screen(world, signed_in):
    cookie = f"{routes.CONSOLE_SESSION_COOKIE}={signed_in['a']}"
    with live_state(ConsoleSubscribersState, cookie, path=routes.CONSOLE_SUBSCRIBERS) as state:
        run_handler(ConsoleSubscribersState.load_all, state)
        assert state.export_csv_url == routes.API_CONSOLE_EXPORT_SUBSCRIBERS
        run_handler(ConsoleSubscribersState.search, state, {"query": " zoë & co ", "status": "past_due"})
        assert state.export_csv_url == routes.console_subscribers_csv_url(query="zoë & co", status="past_due")
        assert "query=zo%C3%AB%20%26%20co&status=past_due" in state.export_csv_url
    plan_id = world["a"]["plans"]["Basic"]
    with live_state(
        ConsoleSubscribersState, cookie, path=routes.console_plan_url(plan_id), params={"plan_id": str(plan_id)}
    ) as state:
        run_handler(ConsoleSubscribersState.load_plan, state)
        assert state.export_csv_url == routes.console_subscribers_csv_url(plan_id=plan_id)
