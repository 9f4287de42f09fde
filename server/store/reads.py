"""The read statements: balances (and whether anything fell due), an entry's position, a batch of history.

Statements are built with SQLAlchemy Core from `server.store.schema` and
compiled for psycopg once: the fixed ones at import, each history variant (by
the filters it uses) on first use, so the hot path pays for neither statement
building nor an ORM.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import psycopg
from sqlalchemy import bindparam, func, literal_column, select

from server.domain.model import Entry, EntryType, HistoryQuery, Wallet
from server.store import due
from server.store.rows import ENTRY_COLUMNS, WALLET_COLUMN_LIST, compile_sql, entry_from_row, wallet_from_row
from server.store.schema import ledger_entries

# Customer ids travel as one JSON document (psycopg adapts a list element by element),
# matched as an array so that the planner looks them up in the index (see store.locking).
_SELECT_WALLETS = f"""
SELECT {WALLET_COLUMN_LIST}, {due.customer_due("wallets.customer_id")} FROM wallets
WHERE customer_id = ANY(ARRAY(SELECT jsonb_array_elements_text(%(customer_ids)s::jsonb)))
ORDER BY customer_id, currency
"""

_CUSTOMER_DUE = f"SELECT {due.customer_due('%(customer_id)s')}"

_SELECT_ENTRY_SEQ = compile_sql(
    select(ledger_entries.c.seq).where(
        ledger_entries.c.customer_id == bindparam("customer_id"), ledger_entries.c.id == bindparam("entry_id")
    )
)


async def select_wallets(
    conn: psycopg.AsyncConnection[Any], customer_ids: Sequence[str], clock_offset: timedelta
) -> tuple[list[Wallet], set[str]]:
    """The stored wallets of the customers, by customer and currency, and the customers with something due."""
    params = {"customer_ids": json.dumps(list(customer_ids)), "clock_offset": clock_offset}
    cursor = await conn.execute(_SELECT_WALLETS, params)
    rows = await cursor.fetchall()
    return [wallet_from_row(row) for row in rows], {row[0] for row in rows if row[-1]}


async def customer_due(conn: psycopg.AsyncConnection[Any], customer_id: str, clock_offset: timedelta) -> bool:
    """Whether something of the customer fell due and is not posted yet."""
    cursor = await conn.execute(_CUSTOMER_DUE, {"customer_id": customer_id, "clock_offset": clock_offset})
    row = await cursor.fetchone()
    return bool(row and row[0])


async def select_entry_seq(conn: psycopg.AsyncConnection[Any], customer_id: str, entry_id: str) -> int | None:
    """The history position of one of the customer's entries, or None if it has no such entry."""
    cursor = await conn.execute(_SELECT_ENTRY_SEQ, {"customer_id": customer_id, "entry_id": entry_id})
    row = await cursor.fetchone()
    return None if row is None else int(row[0])


@functools.lru_cache(maxsize=64)
def _list_entries_statement(
    *, currency: bool, entry_type: bool, created_after: bool, created_before: bool, newest_first: bool
) -> str:
    """The keyset query of one history batch with the filters that are set: entries past `cursor_seq`."""
    c = ledger_entries.c
    # Most entries carry no metadata: NULL for those spares the driver parsing '{}' a million times.
    columns = [
        func.nullif(column, literal_column("'{}'::jsonb")).label("metadata") if column is c.metadata else column
        for column in ENTRY_COLUMNS
    ]
    statement = select(*columns).where(c.customer_id == bindparam("customer_id"))
    if newest_first:
        statement = statement.where(c.seq < bindparam("cursor_seq")).order_by(c.seq.desc())
    else:
        statement = statement.where(c.seq > bindparam("cursor_seq")).order_by(c.seq)
    if currency:
        statement = statement.where(c.currency == bindparam("currency"))
    if entry_type:
        statement = statement.where(c.entry_type == bindparam("entry_type"))
    if created_after:
        statement = statement.where(c.created_at >= bindparam("created_after"))
    if created_before:
        statement = statement.where(c.created_at < bindparam("created_before"))
    return compile_sql(statement.limit(bindparam("batch_size")))


async def list_entries(
    conn: psycopg.AsyncConnection[Any], query: HistoryQuery, after_seq: int, limit: int
) -> list[Entry]:
    """Up to `limit` of the query's entries past history position `after_seq`, in the query's order."""
    statement = _list_entries_statement(
        currency=query.currency is not None,
        entry_type=query.entry_type is not None,
        created_after=query.created_after is not None,
        created_before=query.created_before is not None,
        newest_first=query.newest_first,
    )
    params = {
        "customer_id": query.customer_id,
        "currency": query.currency,
        "entry_type": query.entry_type.value if query.entry_type else None,
        "created_after": query.created_after,
        "created_before": query.created_before,
        "cursor_seq": after_seq,
        "batch_size": limit,
    }
    cursor = await conn.execute(statement, params)
    entries = [entry_from_row(row) for row in await cursor.fetchall()]
    return await with_reversed_amounts(conn, query.customer_id, entries)


# The sums of the reversals of a page of entries, through the partial index of reversals: one short
# statement per page of up to HISTORY_BATCH_ROWS entries, whether or not the customer reversed anything.
_REVERSED_SUMS = """
SELECT reverses_entry_id, sum(amount)::bigint FROM ledger_entries
WHERE customer_id = %(customer_id)s
  AND reverses_entry_id = ANY(ARRAY(SELECT jsonb_array_elements_text(%(ids)s::jsonb)))
GROUP BY 1
"""


async def with_reversed_amounts(
    conn: psycopg.AsyncConnection[Any], customer_id: str, entries: list[Entry]
) -> list[Entry]:
    """The entries with `reversed_amount` set to the sum of their reversals as of this read."""
    if not entries:
        return entries
    ids = [entry.id for entry in entries if entry.entry_type is not EntryType.EXPIRATION]
    cursor = await conn.execute(_REVERSED_SUMS, {"customer_id": customer_id, "ids": json.dumps(ids)})
    sums = dict(await cursor.fetchall())
    if not sums:
        return entries
    return [entry._replace(reversed_amount=sums[entry.id]) if entry.id in sums else entry for entry in entries]
