"""A trigram index over the subscribers' search text, so "name or email contains" needs no full scan.

- SQLite: an FTS5 table with the trigram tokenizer (SQLite >= 3.34) over subscriber.search_text
  (external content: the text is not stored twice), kept in step by triggers. `text_matches` asks it
  for the ids containing a folded query of three characters or more.
- PostgreSQL: pg_trgm's GIN index on subscriber.search_text serves the LIKE '%...%' the console query
  already sends; the planner chooses it when the pattern is selective. Installing the extension needs
  the right to create it (trusted since PostgreSQL 13); without it the search works as before, by scan.

Installed by the migration and, through an `after_create` event, by SQLModel.metadata.create_all.
"""

from __future__ import annotations

import logging

import sqlalchemy as sa

from portal_app.models import Subscriber

log = logging.getLogger(__name__)

FTS_TABLE = "subscriber_search"  # and its FTS5 shadow tables subscriber_search_*
PG_INDEX = "ix_subscriber_search_trgm"
# Above this many matches the index stops paying: the ordered scan finds a page of them at once.
NARROW_CAP = 2000
MIN_TRIGRAM_QUERY = 3

_SQLITE = (
    f"CREATE VIRTUAL TABLE IF NOT EXISTS {FTS_TABLE} USING fts5("
    "search_text, merchant_id UNINDEXED, content='subscriber', content_rowid='id', tokenize='trigram')",
    f"CREATE TRIGGER IF NOT EXISTS {FTS_TABLE}_ai AFTER INSERT ON subscriber BEGIN "
    f"INSERT INTO {FTS_TABLE}(rowid, search_text, merchant_id) VALUES (new.id, new.search_text, new.merchant_id); END",
    f"CREATE TRIGGER IF NOT EXISTS {FTS_TABLE}_ad AFTER DELETE ON subscriber BEGIN "
    f"INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, search_text, merchant_id) "
    "VALUES ('delete', old.id, old.search_text, old.merchant_id); END",
    f"CREATE TRIGGER IF NOT EXISTS {FTS_TABLE}_au AFTER UPDATE OF search_text, merchant_id ON subscriber BEGIN "
    f"INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, search_text, merchant_id) "
    "VALUES ('delete', old.id, old.search_text, old.merchant_id); "
    f"INSERT INTO {FTS_TABLE}(rowid, search_text, merchant_id) VALUES (new.id, new.search_text, new.merchant_id); END",
    f"INSERT INTO {FTS_TABLE}({FTS_TABLE}) VALUES ('rebuild')",
)


def is_index_table(name: str) -> bool:
    """The FTS5 table and its shadow tables (alembic's autogenerate leaves them alone)."""
    return name == FTS_TABLE or name.startswith(f"{FTS_TABLE}_")


def install_search_index(connection: sa.Connection) -> None:
    """Create the index for this dialect (idempotent); the subscriber table must exist."""
    if connection.dialect.name == "sqlite":
        for statement in _SQLITE:
            connection.exec_driver_sql(statement)
    elif connection.dialect.name == "postgresql":
        _install_pg_trgm(connection)


def drop_search_index(connection: sa.Connection) -> None:
    if connection.dialect.name == "sqlite":
        for suffix in ("ai", "ad", "au"):
            connection.exec_driver_sql(f"DROP TRIGGER IF EXISTS {FTS_TABLE}_{suffix}")
        connection.exec_driver_sql(f"DROP TABLE IF EXISTS {FTS_TABLE}")
    elif connection.dialect.name == "postgresql":
        connection.exec_driver_sql(f"DROP INDEX IF EXISTS {PG_INDEX}")


def _install_pg_trgm(connection: sa.Connection) -> None:
    # In `public` where it can go: an extension belongs to the schema it is created in, and one created
    # in a per-tenant (or per-test) schema would vanish, with every index using its operator class,
    # when that schema is dropped. Elsewhere (no rights on public) the search_path's first schema.
    for statement in (
        "CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA public",
        "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    ):
        try:
            with connection.begin_nested():
                connection.exec_driver_sql(statement)
            break
        except sa.exc.DBAPIError as exc:
            error = exc
    else:
        log.warning("pg_trgm is not available (%s): the console search scans instead", type(error).__name__)
        return
    # The operator class lives where the extension was installed, which may not be on this
    # connection's search_path (a schema per tenant or per test): name it with its schema.
    schema = connection.exec_driver_sql(
        "SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'pg_trgm'"
    ).scalar_one()
    quoted = connection.dialect.identifier_preparer.quote(schema)
    connection.exec_driver_sql(
        f"CREATE INDEX IF NOT EXISTS {PG_INDEX} ON subscriber USING gin (search_text {quoted}.gin_trgm_ops)"
    )


@sa.event.listens_for(Subscriber.__table__, "after_create")
def _install_after_create(_table, connection, **_kw) -> None:
    install_search_index(connection)


def text_matches(session, *, merchant_id: int, folded: str) -> list[int] | None:
    """The ids of the merchant's subscribers whose search text contains `folded` (already folded),
    found through the SQLite trigram index when there are at most NARROW_CAP of them; None when the
    index cannot narrow the search (PostgreSQL, whose planner uses its index itself; a query under
    three characters; more matches than the cap)."""
    if session.get_bind().dialect.name != "sqlite" or len(folded) < MIN_TRIGRAM_QUERY:
        return None
    phrase = '"' + folded.replace('"', '""') + '"'
    ids = list(
        session.execute(
            sa.text(
                f"SELECT rowid FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH :phrase AND merchant_id = :merchant LIMIT :cap"
            ),
            {"phrase": phrase, "merchant": merchant_id, "cap": NARROW_CAP + 1},
        ).scalars()
    )
    return ids if len(ids) <= NARROW_CAP else None
