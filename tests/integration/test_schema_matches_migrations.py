"""`server/store/schema.py` and the Alembic migrations describe the same database.

The statements are built from schema.py while the migrations build the real
tables; if the two drift apart, the SQL is compiled against tables that do not
exist. Alembic's autogenerate comparison covers tables, columns, types,
defaults, keys and indexes; check constraints and triggers, which it does not
compare, are compared by name here.
"""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
import sqlalchemy
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import CheckConstraint

from server.store.db import sqlalchemy_url
from server.store.schema import APPEND_ONLY_TRIGGERS, metadata


@pytest.fixture(scope="module")
def engine(database_url: str) -> Iterator[sqlalchemy.Engine]:
    engine = sqlalchemy.create_engine(sqlalchemy_url(database_url), poolclass=sqlalchemy.pool.NullPool)
    yield engine
    engine.dispose()


def test_autogenerate_finds_no_difference_between_the_schema_and_the_migrated_database(
    engine: sqlalchemy.Engine,
) -> None:
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True, "compare_server_default": True})
        differences = compare_metadata(context, metadata)
    assert differences == []


def test_the_migrated_database_has_exactly_the_check_constraints_the_schema_declares(database_url: str) -> None:
    declared = {
        (table.name, constraint.name)
        for table in metadata.tables.values()
        for constraint in table.constraints
        if isinstance(constraint, CheckConstraint)
    }
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT conrelid::regclass::text, conname FROM pg_constraint"
            " WHERE contype = 'c' AND connamespace = 'public'::regnamespace"
        ).fetchall()
    assert set(rows) == declared


def test_the_migrated_database_has_exactly_the_append_only_triggers_the_schema_names(database_url: str) -> None:
    with psycopg.connect(database_url) as conn:
        rows = conn.execute("SELECT tgrelid::regclass::text, tgname FROM pg_trigger WHERE NOT tgisinternal").fetchall()
    declared = {(table, name) for table, names in APPEND_ONLY_TRIGGERS.items() for name in names}
    assert set(rows) == declared
