"""The service's clock: tests move it forward, it never moves back, and created_at keeps its order."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

import psycopg
import pytest
from psycopg_pool import AsyncConnectionPool

from server.config import Settings
from server.domain.model import Applied, EntryRequest, EntryType
from server.ledger import Ledger
from server.ledger.clock import Clock


def test_the_clock_moves_forward_and_never_back() -> None:
    clock = Clock()
    before = clock.now()
    clock.advance(timedelta(hours=1))
    assert clock.now() - before >= timedelta(hours=1)
    with pytest.raises(ValueError):
        clock.advance(timedelta(seconds=-1))
    assert clock.offset == timedelta(hours=1)


async def test_a_batch_decides_at_the_moved_time(
    pool: AsyncConnectionPool[psycopg.AsyncConnection[Any]], customer_id: str
) -> None:
    ledger = Ledger(pool, replace(Settings(), expirer_interval_s=0))
    ledger.clock.advance(timedelta(days=2))
    try:
        (applied,) = await ledger.transaction.apply(
            [EntryRequest(customer_id, "USD", EntryType.CREDIT, 10, "", "", {})]
        )
        assert isinstance(applied, Applied)
        assert applied.entry.created_at - Clock().now() > timedelta(days=1)
    finally:
        await ledger.close()


async def test_created_at_never_decreases_along_a_history_written_by_clocks_that_disagree(
    pool: AsyncConnectionPool[psycopg.AsyncConnection[Any]], customer_id: str
) -> None:
    """One writer's clock runs an hour ahead of another's (two processes, a moved test clock): the entry the
    slower one writes next is stamped no earlier than the one before it."""
    settings = replace(Settings(), expirer_interval_s=0)
    ahead, behind = Ledger(pool, settings), Ledger(pool, settings)
    ahead.clock.advance(timedelta(hours=1))
    try:
        (first,) = await ahead.transaction.apply([EntryRequest(customer_id, "USD", EntryType.CREDIT, 10, "", "", {})])
        (second,) = await behind.transaction.apply([EntryRequest(customer_id, "INR", EntryType.CREDIT, 5, "", "", {})])
        assert isinstance(first, Applied) and isinstance(second, Applied)
        assert second.entry.created_at >= first.entry.created_at
        assert second.entry.seq == first.entry.seq + 1
    finally:
        await ahead.close()
        await behind.close()
