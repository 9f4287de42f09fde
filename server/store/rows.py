"""Rows to domain values, and the SQL compiler the statements share."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import fields
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Any

from sqlalchemy.dialects.postgresql import psycopg as psycopg_dialect
from sqlalchemy.sql import Select

from server.domain.holds import Hold, HoldStatus
from server.domain.model import Entry, EntryType, Lot, Wallet
from server.domain.refusals import StoredRefusal
from server.store.columns import ColumnList, row_order
from server.store.schema import credit_lots, holds, ledger_entries, stored_refusals, wallets

_DIALECT = psycopg_dialect.dialect()  # type: ignore[no-untyped-call]

# Each whole-row select reads the columns in the order of the domain value it becomes (row_order checks
# that the names are the table's columns, each once); the `*_from_row` functions read them in that order.
ENTRY_COLUMN_LIST = ColumnList(row_order(ledger_entries, [f for f in Entry._fields if f != "reversed_amount"]))
ENTRY_COLUMNS = [ledger_entries.c[name] for name in ENTRY_COLUMN_LIST.names]
WALLET_COLUMN_LIST = ColumnList(row_order(wallets, Wallet._fields))
LOT_COLUMN_LIST = ColumnList(row_order(credit_lots, [f.name for f in fields(Lot)]))
# A hold's `ttl` (a timedelta) is stored as `ttl_ms`.
HOLD_COLUMN_LIST = ColumnList(row_order(holds, ["ttl_ms" if f.name == "ttl" else f.name for f in fields(Hold)]))
REFUSAL_COLUMN_LIST = ColumnList(row_order(stored_refusals, [f.name for f in fields(StoredRefusal)]))

_ENTRY_TYPES = {entry_type.value: entry_type for entry_type in EntryType}
_HOLD_STATUSES = {status.value: status for status in HoldStatus}

# Shared by every entry without metadata; read-only so that no one can fill it.
_NO_METADATA: Mapping[str, str] = MappingProxyType({})


def qualified(alias: str, column_list: ColumnList) -> str:
    """A column list such as ENTRY_COLUMN_LIST with each column prefixed by a table alias."""
    return ColumnList(column_list.names, alias)


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
    """A JSON array in HOLD_COLUMN_LIST order (timestamps as ISO text)."""
    moments = [None if v is None else datetime.fromisoformat(v) for v in values[10:13]]
    return hold_from_row([*values[:10], *moments, *values[13:]])


def hold_from_row(row: Sequence[Any]) -> Hold:
    """Columns in HOLD_COLUMN_LIST order."""
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


# How a column's value becomes the entry's field where it is not taken as it is (NULL text is "").
_ENTRY_FIELD_OF = {
    "entry_type": "_ENTRY_TYPES[{}]",
    "idempotency_key": "{} or ''",
    "metadata": "{} or _NO_METADATA",
    "hold_id": "{} or ''",
    "expired_entry_id": "{} or ''",
    "reverses_entry_id": "{} or ''",
}


def _entry_reader() -> Callable[[Sequence[Any]], Entry]:
    """`entry_from_row`, generated from the column order: one tuple built in place, no keyword binding.

    Exports call it millions of times: building the tuple directly costs about a third of
    `Entry(...)` with positional arguments, and a keyword call costs twice that (measured).
    Every field is given, so the NamedTuple's defaults play no part.
    """
    fields_of_row = [
        _ENTRY_FIELD_OF.get(name, "{}").format(f"row[{i}]") for i, name in enumerate(ENTRY_COLUMN_LIST.names)
    ]
    assert (*ENTRY_COLUMN_LIST.names, "reversed_amount") == Entry._fields
    source = f"lambda row: _new(Entry, ({', '.join(fields_of_row)}, 0))"
    namespace = {"_new": tuple.__new__, "Entry": Entry, "_ENTRY_TYPES": _ENTRY_TYPES, "_NO_METADATA": _NO_METADATA}
    # Source built from the column names above only, as collections.namedtuple builds its own __new__.
    reader: Callable[[Sequence[Any]], Entry] = eval(source, namespace)
    return reader


# Columns in ENTRY_COLUMN_LIST order; the entry has no reversals counted (`reversed_amount` 0).
entry_from_row = _entry_reader()


def refusal_from_row(row: Sequence[Any]) -> StoredRefusal:
    """Columns in REFUSAL_COLUMN_LIST order."""
    return StoredRefusal(row[0], row[1], row[2], row[3], row[4], row[5] or _NO_METADATA, row[6])
