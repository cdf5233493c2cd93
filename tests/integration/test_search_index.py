"""The trigram index behind the console's "name or email contains": kept in step with every write,
answering exactly what the scan answers, on SQLite (FTS5) and PostgreSQL (pg_trgm)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlmodel import Session

from portal_app.billing import search_index, subscriber_search
from portal_app.billing.search_text import fold
from portal_app.db import new_session
from portal_app.models import Subscriber
from tests.builders import make_merchant

pytestmark = pytest.mark.integration

PEOPLE = ["Zoë Ñúñez", "Ana Lima", "Anabel Ruiz", "Björk Guðmundsdóttir", "Иван Петров", "Søren 100% Kierkegaard"]


def _people(engine, slug: str, names=PEOPLE) -> tuple[int, list[int]]:
    with new_session(engine) as session, session.begin():
        merchant = make_merchant(session, slug, slug[:3].upper())
        rows = [
            Subscriber(merchant_id=merchant.id, name=n, email=f"{fold(n).replace(' ', '.')}@example.com") for n in names
        ]
        session.add_all(rows)
        session.flush()
        return merchant.id, [r.id for r in rows]


def _names(session: Session, merchant_id: int, query: str) -> list[str]:
    stmt = subscriber_search.subscribers_statement(session, merchant_id=merchant_id, query=query, limit=100)
    return [row.name for row in session.exec(stmt)]


def _scan_names(session: Session, merchant_id: int, query: str, monkeypatch) -> list[str]:
    with monkeypatch.context() as m:
        m.setattr(subscriber_search, "text_matches", lambda *a, **k: None)
        return _names(session, merchant_id, query)


QUERIES = ["nunez", "ÑÚÑEZ", "ana", "an", "lima@ex", "guðm", "петров", "100%", "no such person", "zoë ñúñez", '"q"']


def test_the_index_answers_what_the_scan_answers(any_engine, monkeypatch):
    merchant_id, _ = _people(any_engine, "acme")
    _people(any_engine, "other")  # the same names at another merchant: never in Acme's answers
    with new_session(any_engine) as session:
        for query in QUERIES:
            assert _names(session, merchant_id, query) == _scan_names(session, merchant_id, query, monkeypatch), query
        assert _names(session, merchant_id, "nunez") == ["Zoë Ñúñez"]
        assert _names(session, merchant_id, "ana") == ["Ana Lima", "Anabel Ruiz"]
        assert _names(session, merchant_id, "no such person") == []


def test_sqlite_index_follows_inserts_renames_and_deletes(engine):
    merchant_id, ids = _people(engine, "acme")
    with new_session(engine) as session:
        assert search_index.text_matches(session, merchant_id=merchant_id, folded="nunez") == [ids[0]]
    with new_session(engine) as session, session.begin():
        zoe = session.get(Subscriber, ids[0])
        zoe.name = "Zoë Quiñones"
        session.add(Subscriber(merchant_id=merchant_id, name="Nuño Núñez", email="nn@example.com"))
        session.delete(session.get(Subscriber, ids[1]))
    with new_session(engine) as session:
        (new_id,) = session.execute(sa.select(Subscriber.id).where(Subscriber.name == "Nuño Núñez")).scalars()
        # Zoë's email still says nunez; her name no longer does.
        assert search_index.text_matches(session, merchant_id=merchant_id, folded="nunez") == [ids[0], new_id]
        assert search_index.text_matches(session, merchant_id=merchant_id, folded="zoe nunez") == []
        assert search_index.text_matches(session, merchant_id=merchant_id, folded="quinones") == [ids[0]]
        assert search_index.text_matches(session, merchant_id=merchant_id, folded="ana lima") == []
        # Under three characters the trigram index cannot help: the scan answers.
        assert search_index.text_matches(session, merchant_id=merchant_id, folded="nu") is None


def test_more_matches_than_the_cap_fall_back_to_the_ordered_scan(engine, monkeypatch):
    merchant_id, _ = _people(engine, "acme", names=[f"Person {i:03d}" for i in range(30)])
    monkeypatch.setattr(search_index, "NARROW_CAP", 10)
    with new_session(engine) as session:
        assert search_index.text_matches(session, merchant_id=merchant_id, folded="person") is None
        assert search_index.text_matches(session, merchant_id=merchant_id, folded="person 02") is not None
        assert len(_names(session, merchant_id, "person")) == 30


def test_postgres_has_the_trigram_index(any_engine):
    if any_engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL only")
    with any_engine.connect() as conn:
        names = conn.exec_driver_sql("SELECT indexname FROM pg_indexes WHERE tablename = 'subscriber'").scalars().all()
    assert search_index.PG_INDEX in names
