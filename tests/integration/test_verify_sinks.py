"""The sinks' state in the database: what `wallet-admin verify` reports of it, and how an endpoint's log is pruned."""

from __future__ import annotations

import asyncio

import psycopg
import pytest

from server.domain.model import EntryRequest, EntryType
from server.store import events, webhooks
from server.verify.admin import main as admin_main
from server.verify.sinks import sink_standings
from tests.database import scratch_database
from tests.ledgers import ledger_on


async def _write_and_place(url: str, count: int) -> None:
    async with ledger_on(url) as ledger:
        for _ in range(count):
            await ledger.transaction.apply([EntryRequest("cus_sink", "USD", EntryType.CREDIT, 10, "", "", {})])
    async with await psycopg.AsyncConnection.connect(url) as conn, conn.transaction():
        await events.place_events(conn, 1_000)


def test_the_verifier_reports_each_sinks_position_and_backlog(
    database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with scratch_database(database_url) as url:
        with psycopg.connect(url) as conn:
            conn.execute(
                """INSERT INTO webhook_endpoints (id, url, event_types, secret, start_position, last_position)
                   VALUES ('we_1', 'https://example.com/a', '["balance_low"]', '\\x00', 0, 0),
                          ('we_2', 'https://example.com/b', '[]', '\\x00', 0, 0)"""
            )
            conn.execute("INSERT INTO sink_positions (sink, position) VALUES ('nats', 1)")
        asyncio.run(_write_and_place(url, 3))
        standings = {s.name: s for s in sink_standings(url)}
        assert standings["nats"].behind == 2 and standings["nats"].stream_position == 3
        assert standings["webhook we_1 (active)"].behind == 0  # no balance_low event at all
        assert standings["webhook we_2 (active)"].behind == 3
        assert admin_main(["verify", "--database-url", url]) == 0
        output = capsys.readouterr().out
        assert "sink nats: at ev_1, 2 event(s) behind the stream's ev_3, the oldest" in output
        assert "sink webhook we_1 (active): at ev_0, up to date (stream at ev_3)" in output


def test_an_endpoints_log_keeps_only_the_attempts_at_events_still_retained(database_url: str) -> None:
    with scratch_database(database_url) as url:
        asyncio.run(_write_and_place(url, 3))
        with psycopg.connect(url) as conn:
            conn.execute(
                """INSERT INTO webhook_endpoints (id, url, secret, start_position, last_position)
                   VALUES ('we_1', 'https://example.com/a', '\\x00', 0, 3)"""
            )
            conn.execute(
                """INSERT INTO webhook_deliveries (endpoint_id, event_position, attempt, http_status, error,
                       attempted_at, duration_ms, delivered)
                   SELECT 'we_1', p, 1, 200, '', now(), 1, true FROM generate_series(1, 3) p"""
            )
            conn.execute("DELETE FROM wallet_events WHERE position = 1")  # as retention does: a prefix
        asyncio.run(_prune(url))
        with psycopg.connect(url) as conn:
            kept = conn.execute("SELECT event_position FROM webhook_deliveries ORDER BY 1").fetchall()
        assert kept == [(2,), (3,)]


async def _prune(url: str) -> None:
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        assert await webhooks.prune_deliveries(conn, "we_1") == 1
