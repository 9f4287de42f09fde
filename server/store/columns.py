"""Column lists and record types derived from the tables (`server.store.schema`), so a column is named once.

The statements that select whole rows read them in the order of the domain
value they become (an `Entry`'s fields, a `Hold`'s); the write statement
inserts rows from JSON documents whose record type is each table's columns
with their PostgreSQL types. Both come from the `Table` objects here, once,
at import: the hot path only sees the text they render to.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from psycopg import sql
from sqlalchemy import Table
from sqlalchemy.dialects.postgresql import psycopg as psycopg_dialect

_DIALECT = psycopg_dialect.dialect()  # type: ignore[no-untyped-call]


class ColumnList(str):
    """A rendered, comma-separated column list that keeps its column names (for `qualified`)."""

    names: tuple[str, ...]

    def __new__(cls, names: Iterable[str], alias: str | None = None) -> ColumnList:
        names = tuple(names)
        parts = (sql.Identifier(alias, name) if alias else sql.Identifier(name) for name in names)
        rendered = super().__new__(cls, render(sql.SQL(", ").join(parts)))
        rendered.names = names
        return rendered


def render(composed: sql.Composable) -> str:
    """The SQL text of a composed statement (identifiers quoted; no connection is needed for that)."""
    return composed.as_string(None)


def row_order(table: Table, names: Sequence[str]) -> tuple[str, ...]:
    """`names`, checked to be every column of `table` exactly once: the order a domain value reads a row in."""
    if sorted(names) != sorted(table.columns.keys()):
        raise AssertionError(f"{table.name}: {sorted(names)} are not its columns {sorted(table.columns.keys())}")
    return tuple(names)


def some_of(table: Table, names: Sequence[str]) -> tuple[str, ...]:
    """`names`, checked to be columns of `table`: the order a read that takes part of a row reads it in."""
    unknown = set(names) - set(table.columns.keys())
    if unknown:
        raise AssertionError(f"{table.name} has no columns {sorted(unknown)}")
    return tuple(names)


def written(table: Table, *, without: Iterable[str] = ()) -> tuple[str, ...]:
    """The table's columns in its own order, less the ones a write leaves to the database."""
    left_out = set(some_of(table, tuple(without)))
    return tuple(column.name for column in table.columns if column.name not in left_out)


def pg_type(table: Table, name: str) -> str:
    """The PostgreSQL type name of a column, as the SQLAlchemy dialect compiles its type (e.g. `bigint`)."""
    compiled: str = table.columns[name].type.compile(dialect=_DIALECT)
    return compiled.lower()


def record_type(table: Table, names: Iterable[str]) -> sql.Composed:
    """A column definition list (`name type, ...`) for `jsonb_to_recordset(...) AS alias(...)`."""
    return sql.SQL(", ").join(
        sql.SQL("{} {}").format(sql.Identifier(name), sql.SQL(pg_type(table, name))) for name in names
    )
