"""Rows to domain values, and the SQL compiler the statements share."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Any

from sqlalchemy.dialects.postgresql import psycopg as psycopg_dialect
from sqlalchemy.sql import Select

from server.domain.holds import Hold, HoldStatus
from server.domain.model import Entry, EntryType, Lot, Wallet
from server.domain.refusals import StoredRefusal
from server.store.schema import credit_lots, holds, ledger_entries, stored_refusals

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
    ledger_entries.c.expire_time,
    ledger_entries.c.hold_id,
    ledger_entries.c.expired_entry_id,
    ledger_entries.c.wallet_version,
    ledger_entries.c.wallet_held,
    ledger_entries.c.reverses_entry_id,
]
ENTRY_COLUMN_LIST = ", ".join(column.name for column in ENTRY_COLUMNS)

_ENTRY_TYPES = {entry_type.value: entry_type for entry_type in EntryType}
_HOLD_STATUSES = {status.value: status for status in HoldStatus}

WALLET_COLUMN_LIST = (
    "customer_id, currency, balance, created_at, updated_at, held_balance, version, low_balance_threshold"
)
LOT_COLUMN_LIST = ", ".join(
    c.name
    for c in (
        credit_lots.c.customer_id,
        credit_lots.c.currency,
        credit_lots.c.credit_seq,
        credit_lots.c.credit_id,
        credit_lots.c.expire_time,
        credit_lots.c.amount,
        credit_lots.c.remaining,
        credit_lots.c.held,
    )
)
HOLD_COLUMNS = [
    holds.c.id,
    holds.c.customer_id,
    holds.c.currency,
    holds.c.amount,
    holds.c.status,
    holds.c.captured_amount,
    holds.c.capture_entry_id,
    holds.c.reason,
    holds.c.idempotency_key,
    holds.c.metadata,
    holds.c.created_at,
    holds.c.expire_time,
    holds.c.closed_at,
    holds.c.created_by,
    holds.c.ttl_ms,
    holds.c.reservations,
    holds.c.created_version,
    holds.c.closed_version,
]
HOLD_COLUMN_LIST = ", ".join(column.name for column in HOLD_COLUMNS)
REFUSAL_COLUMN_LIST = ", ".join(
    c.name
    for c in (
        stored_refusals.c.customer_id,
        stored_refusals.c.idempotency_key,
        stored_refusals.c.fingerprint,
        stored_refusals.c.reason,
        stored_refusals.c.message,
        stored_refusals.c.metadata,
        stored_refusals.c.created_at,
    )
)
# Shared by every entry without metadata; read-only so that no one can fill it.
_NO_METADATA: Mapping[str, str] = MappingProxyType({})


def qualified(alias: str, column_list: str) -> str:
    """A column list such as ENTRY_COLUMN_LIST with each column prefixed by a table alias."""
    return ", ".join(f"{alias}.{name}" for name in column_list.split(", "))


def compile_sql(statement: Select[Any]) -> str:
    """SQL text with %(name)s placeholders, as psycopg expects."""
    return str(statement.compile(dialect=_DIALECT))


def isoformat(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def wallet_from_row(row: Sequence[Any]) -> Wallet:
    """Columns in WALLET_COLUMN_LIST order."""
    return Wallet(row[0], row[1], row[2], row[3], row[4], row[5], row[6], row[7])


def lot_from_row(row: Sequence[Any]) -> Lot:
    """Columns in LOT_COLUMN_LIST order."""
    return Lot(row[0], row[1], row[2], row[3], row[4], row[5], row[6], row[7])


def lot_from_json(values: Sequence[Any]) -> Lot:
    """A JSON array in LOT_COLUMN_LIST order (timestamps as ISO text)."""
    return lot_from_row([*values[:4], datetime.fromisoformat(values[4]), *values[5:]])


def hold_from_json(values: Sequence[Any]) -> Hold:
    """A JSON array in HOLD_COLUMNS order (timestamps as ISO text)."""
    moments = [None if v is None else datetime.fromisoformat(v) for v in values[10:13]]
    return hold_from_row([*values[:10], *moments, *values[13:]])


def hold_from_row(row: Sequence[Any]) -> Hold:
    """Columns in HOLD_COLUMNS order."""
    return Hold(
        id=row[0],
        customer_id=row[1],
        currency=row[2],
        amount=row[3],
        status=_HOLD_STATUSES[row[4]],
        captured_amount=row[5],
        capture_entry_id=row[6] or "",
        reason=row[7],
        idempotency_key=row[8] or "",
        metadata=row[9] or _NO_METADATA,
        created_at=row[10],
        expire_time=row[11],
        closed_at=row[12],
        created_by=row[13],
        ttl=timedelta(milliseconds=row[14]),
        reservations=tuple((int(part[0]), int(part[1])) for part in row[15]),
        created_version=row[16],
        closed_version=row[17],
    )


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
        row[13],
        row[14] or "",
        row[15] or "",
        row[16],
        row[17],
        row[18] or "",
    )


def refusal_from_row(row: Sequence[Any]) -> StoredRefusal:
    """Columns in REFUSAL_COLUMN_LIST order."""
    return StoredRefusal(row[0], row[1], row[2], row[3], row[4], row[5] or _NO_METADATA, row[6])
