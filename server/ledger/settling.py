"""Posting what fell due (expired holds, lapsed credits) through the write path, before a read answers.

Reads ask the store whether anything of their customer is due (the rule is
`server.store.due` in SQL, `server.domain.settle` in Python) and, if so,
submit a `SettleRequest` to the write queues like any write; the background
expirer asks who is due and settles them the same way.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import psycopg
from psycopg_pool import AsyncConnectionPool

from server.domain.holds import SettleRequest
from server.ledger.clock import Clock
from server.ledger.write_shards import WriteShards
from server.store import hold_reads, reads
from server.store.db import database_errors


class DueSettler:
    """Settles customers through `writes`, and finds who is due on `clock`'s time."""

    def __init__(
        self, pool: AsyncConnectionPool[psycopg.AsyncConnection[Any]], writes: WriteShards, clock: Clock
    ) -> None:
        self._pool = pool
        self._writes = writes
        self._clock = clock

    async def settle(self, customer_ids: Sequence[str]) -> None:
        """Posts whatever fell due for the customers."""
        await asyncio.gather(*(self._writes.submit(SettleRequest(c)) for c in customer_ids))

    async def settle_if_due(self, customer_id: str) -> None:
        """Settles the customer if something of theirs fell due and is not posted yet."""
        with database_errors():
            async with self._pool.connection() as conn:
                due = await reads.customer_due(conn, customer_id, self._clock.offset)
        if due:
            await self.settle([customer_id])

    async def due_customers(self, limit: int) -> list[str]:
        """Up to `limit` customers with a hold that expired or a credit that lapsed, not yet posted."""
        with database_errors():
            async with self._pool.connection() as conn:
                return await hold_reads.select_due_customers(conn, limit, self._clock.offset)
