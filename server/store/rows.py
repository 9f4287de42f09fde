"""Rows to domain values, and the SQL compiler the statements share."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from types import MappingProxyType
from typing import Any

from sqlalchemy.dialects.postgresql import psycopg as psycopg_dialect
from sqlalchemy.sql import Select

from server.domain.model import Entry, EntryType, Wallet
from server.store.schema import ledger_entries

_DIALECT = psycopg_dialect.dialect()  # type: ignore[no-untyped-call]

# The column order every entry query selects and `entry_from_row` reads.
ENTRY_COLUMNS = [
    ledger_entries.c.id,
    ledger_entries.c.customer_id,
    ledger_entries.c.seq,
    ledger_entries.c.currency,
    ledger_entries.c.entry_type,
    ledger_entries.c.amount,
    ledger_entries.c.before_balance,
    ledger_entries.c.after_balance,
    ledger_entries.c.reason,
    ledger_entries.c.idempotency_key,
    ledger_entries.c.metadata,
    ledger_entries.c.created_at,
    ledger_entries.c.created_by,
]
ENTRY_COLUMN_LIST = ", ".join(column.name for column in ENTRY_COLUMNS)

_ENTRY_TYPES = {entry_type.value: entry_type for entry_type in EntryType}
# Shared by every entry without metadata; read-only so that no one can fill it.
_NO_METADATA: Mapping[str, str] = MappingProxyType({})


def compile_sql(statement: Select[Any]) -> str:
    """SQL text with %(name)s placeholders, as psycopg expects."""
    return str(statement.compile(dialect=_DIALECT))


def isoformat(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def wallet_from_row(row: Sequence[Any]) -> Wallet:
    """Columns customer_id, currency, balance, created_at, updated_at."""
    return Wallet(row[0], row[1], row[2], row[3], row[4])


def entry_from_row(row: Sequence[Any]) -> Entry:
    """Columns in ENTRY_COLUMNS order; positional on purpose, as exports call it millions of times."""
    return Entry(
        row[0],
        row[1],
        row[2],
        row[3],
        _ENTRY_TYPES[row[4]],
        row[5],
        row[6],
        row[7],
        row[8],
        row[9] or "",
        row[10] or _NO_METADATA,
        row[11],
        row[12],
    )
