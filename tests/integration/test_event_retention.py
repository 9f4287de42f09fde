"""Retention: old events are removed as a prefix of the stream, and a cursor before them is CURSOR_EXPIRED."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from dataclasses import replace
from datetime import timedelta

import pytest

from server.config import Settings
from server.domain.errors import CursorExpired, InvalidArgument
from server.domain.events import WatchQuery
from server.domain.model import EntryRequest, EntryType
from server.ledger import Ledger
from server.store import events
from server.store.db import create_pool
from tests.database import scratch_database


async def _first(ledger: Ledger, query: WatchQuery) -> list[object]:
    stream = ledger.watch(query)
    assert isinstance(stream, AsyncGenerator)
    try:
        return list((await anext(stream)).events)
    finally:
        await stream.aclose()


async def test_pruned_events_expire_the_cursors_before_them_and_from_oldest_starts_after_them(
    database_url: str,
) -> None:
    settings = replace(Settings(), expirer_interval_s=0, event_retention_days=30.0)
    # A database of its own: retention removes a prefix of the whole stream.
    with scratch_database(database_url) as url:
        pool = create_pool(settings, url)
        await pool.open(wait=True)
        ledger = Ledger(pool, settings)
        try:
            for amount in (1, 2, 3):
                await ledger.transaction.apply([EntryRequest("cus_r", "USD", EntryType.CREDIT, amount, "", "", {})])
            async with pool.connection() as conn, conn.transaction():
                assert (await events.place_events(conn, 100))[0] == 3
            assert await ledger.prune_events(2) == 0  # all younger than 30 days
            ledger.clock.advance(timedelta(days=30, seconds=1))
            assert await ledger.prune_events(2) >= 2
            async with pool.connection() as conn:
                last, oldest = await events.stream_bounds(conn)
            assert last == 3
            with pytest.raises(CursorExpired) as expired:
                await _first(ledger, WatchQuery("", frozenset(), 1, False))
            assert expired.value.metadata["oldest_cursor"] == (f"ev_{oldest - 1}" if oldest else "ev_3")
            # Resuming right where retention ends, or from the oldest retained, misses nothing: allowed.
            assert await _first(ledger, WatchQuery("", frozenset(), (oldest or 4) - 1, False)) == []
            assert await _first(ledger, WatchQuery("", frozenset(), None, True)) == []
            with pytest.raises(InvalidArgument):
                await _first(ledger, WatchQuery("", frozenset(), 4, False))
        finally:
            await ledger.close()
            await pool.close()


def test_retention_is_configured_in_days() -> None:
    settings = Settings.from_env({"WALLET_EVENT_RETENTION_DAYS": "7"})
    assert timedelta(days=settings.event_retention_days) == timedelta(days=7)
