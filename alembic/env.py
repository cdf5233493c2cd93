"""Alembic's environment for bare `alembic` commands (upgrade, check, revision --autogenerate), the
same schema `reflex db migrate` builds: the tables of portal_app/models.py, the DATABASE_URL setting.

A URL set on the alembic Config (tests, tools: `config.set_main_option("sqlalchemy.url", ...)`) wins
over the setting; alembic.ini holds none, so `alembic upgrade head` migrates the configured database.
"""

from logging.config import fileConfig

from sqlalchemy import create_engine, pool
from sqlmodel import SQLModel

from alembic import context
from portal_app import models  # noqa: F401 - registers every table on SQLModel.metadata
from portal_app.billing import search_index
from portal_app.settings import load_or_exit

config = context.config

# The ini file's logging section, for the `alembic` command line (tests pass no ini file).
if config.config_file_name is not None:
    fileConfig(config.config_file_name, disable_existing_loggers=False)

target_metadata = SQLModel.metadata


def include_object(obj, name, type_, reflected, compare_to) -> bool:
    """Leave the subscribers' trigram index alone (billing/search_index.py): SQLite's FTS5 table and
    its shadow tables, PostgreSQL's GIN index; the migration that made them manages them."""
    if type_ == "table" and search_index.is_index_table(name):
        return False
    return not (type_ == "index" and name == search_index.PG_INDEX)


def database_url() -> str:
    return config.get_main_option("sqlalchemy.url") or load_or_exit().database_url


def run_migrations_offline() -> None:
    """`alembic upgrade --sql`: the SQL for the configured database, printed instead of run."""
    url = database_url()
    context.configure(
        url=url,
        target_metadata=target_metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
        render_as_batch=url.startswith("sqlite"),
        include_object=include_object,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    engine = create_engine(database_url(), poolclass=pool.NullPool)
    try:
        with engine.connect() as connection:
            context.configure(
                connection=connection,
                target_metadata=target_metadata,
                render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters tables by copy
                include_object=include_object,
            )
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
