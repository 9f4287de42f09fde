"""The export use case's reading: a customer's matching entries in order, one short read per batch.

Each batch is its own short read, so a slow reader holds no connection and
no transaction between batches; the position of the last entry sent is the
keyset cursor of the next read.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import psycopg
from psycopg_pool import AsyncConnectionPool

from server.domain.errors import FieldViolation, InvalidArgument
from server.domain.limits import HISTORY_BATCH_ROWS
from server.domain.model import Entry, HistoryQuery
from server.store import reads
from server.store.db import database_errors

_SEQ_END = 2**63 - 1


async def read_history(
    pool: AsyncConnectionPool[psycopg.AsyncConnection[Any]], query: HistoryQuery
) -> AsyncIterator[list[Entry]]:
    """Yields the customer's matching entries in order, at most HISTORY_BATCH_ROWS at a time."""
    cursor_seq = _SEQ_END if query.newest_first else 0
    if query.start_after_id is not None:
        with database_errors():
            async with pool.connection() as conn:
                seq = await reads.select_entry_seq(conn, query.customer_id, query.start_after_id)
        if seq is None:
            raise InvalidArgument([FieldViolation("start_after_id", "is not an entry of this customer")])
        cursor_seq = seq
    remaining = query.limit if query.limit > 0 else None
    while remaining is None or remaining > 0:
        batch_size = HISTORY_BATCH_ROWS if remaining is None else min(HISTORY_BATCH_ROWS, remaining)
        with database_errors():
            async with pool.connection() as conn:
                entries = await reads.list_entries(conn, query, cursor_seq, batch_size)
        if not entries:
            return
        yield entries
        cursor_seq = entries[-1].seq
        if remaining is not None:
            remaining -= len(entries)
        if len(entries) < batch_size:
            return
