"""Migration 0006 upgrades a database of the release before it in place: events kept, sinks start empty."""

from __future__ import annotations

import asyncio

import psycopg

from server.domain.model import EntryRequest, EntryType
from server.store.db import migrate
from server.verify import verify
from tests.database import scratch_database
from tests.ledgers import ledger_on


def test_a_database_of_the_release_before_upgrades_with_every_event_kept_and_no_endpoint_or_sink_position(
    database_url: str,
) -> None:
    with scratch_database(database_url, migrated=False) as url:
        # The release before the sinks (0005, reversals): the ledger of today writes it as it was.
        migrate(url, "0005")
        asyncio.run(_write(url, 3))
        with psycopg.connect(url) as conn:
            events_before = conn.execute("SELECT * FROM wallet_events ORDER BY customer_id, seq").fetchall()
            stream_before = conn.execute("SELECT last_position FROM event_stream").fetchone()
        assert len(events_before) == 3
        migrate(url)
        report = verify(url)
        assert report.ok, report.problems
        with psycopg.connect(url) as conn:
            assert conn.execute("SELECT * FROM wallet_events ORDER BY customer_id, seq").fetchall() == events_before
            assert conn.execute("SELECT last_position FROM event_stream").fetchone() == stream_before
            for table in ("webhook_endpoints", "webhook_deliveries", "sink_positions"):
                assert conn.execute(f"SELECT count(*) FROM {table}").fetchone() == (0,)
        asyncio.run(_write(url, 1))
        assert verify(url).ok


async def _write(url: str, count: int) -> None:
    async with ledger_on(url) as ledger:
        for _ in range(count):
            await ledger.transaction.apply([EntryRequest("cus_old", "USD", EntryType.CREDIT, 10, "", "", {})])
