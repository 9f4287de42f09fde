"""The write statement refuses to commit a batch unless every decided row is written exactly once."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import psycopg
import pytest
from psycopg_pool import AsyncConnectionPool

from server.domain.decide import decide_batch
from server.domain.ids import new_entry_id
from server.domain.model import EntryRequest, EntryType
from server.store import locking, writes


async def test_a_write_whose_row_counts_differ_from_the_decision_fails_and_leaves_nothing(
    pool: AsyncConnectionPool[psycopg.AsyncConnection[Any]], customer_id: str
) -> None:
    request = EntryRequest(customer_id, "USD", EntryType.CREDIT, 100, "guard", "", {})
    with pytest.raises(psycopg.errors.InvalidTextRepresentation, match="rows written differ: entries=1"):
        async with pool.connection() as conn, conn.pipeline(), conn.transaction():
            state = await locking.lock_batch(conn, [customer_id], [], [], timedelta(0))
            decision = decide_batch([request], state, new_entry_id)
            statement, params = writes.write_statement(decision)
            # Claim one entry more than the decision holds: the statement must refuse it.
            params["entries_count"] += 1
            await conn.execute(statement, params)

    async with pool.connection() as conn:
        cursor = await conn.execute("SELECT count(*) FROM ledger_entries WHERE customer_id = %s", (customer_id,))
        assert await cursor.fetchone() == (0,)
