"""Migrations 0003 and 0004 upgrade a holds-release database in place, and events begin at the upgrade."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import psycopg

from server.domain.events import EventType, ThresholdRequest
from server.domain.model import EntryRequest, EntryType
from server.store.db import migrate
from server.verify import verify
from tests.database import scratch_database
from tests.ledgers import ledger_on

T = datetime(2026, 11, 20, tzinfo=UTC)

# What the holds release wrote for one customer: a credit of 100, a debit of 30, an active hold of 20.
_PREVIOUS_RELEASE_ROWS = [
    "INSERT INTO ledger_heads (customer_id, last_seq, last_entry_at) VALUES ('cus_old', 2, %(t)s)",
    """INSERT INTO wallets (customer_id, currency, balance, created_at, updated_at, held_balance, version)
       VALUES ('cus_old', 'USD', 70, %(t)s, %(t)s, 20, 3)""",
    """INSERT INTO ledger_entries (customer_id, seq, id, currency, entry_type, amount, before_balance, after_balance,
                                   reason, metadata, created_at, wallet_version, wallet_held) VALUES
       ('cus_old', 1, 'le_1', 'USD', 'credit', 100, 0, 100, 'bonus', '{}', %(t)s, 1, 0),
       ('cus_old', 2, 'le_2', 'USD', 'debit', 30, 100, 70, 'usage', '{}', %(t)s, 2, 0)""",
    """INSERT INTO holds (customer_id, id, currency, amount, status, created_at, expire_time, ttl_ms, reservations)
       VALUES ('cus_old', 'hd_1', 'USD', 20, 'active', %(t)s, '2099-01-01', 1000, '[[0, 20]]')""",
]


def test_an_upgraded_database_keeps_every_row_verifies_and_emits_events_for_changes_after_the_upgrade(
    database_url: str,
) -> None:
    with scratch_database(database_url, migrated=False) as url:
        migrate(url, "0002")
        with psycopg.connect(url) as conn:
            for statement in _PREVIOUS_RELEASE_ROWS:
                conn.execute(statement, {"t": T})
            before = conn.execute("SELECT * FROM ledger_entries ORDER BY seq").fetchall()
            holds_before = conn.execute("SELECT * FROM holds").fetchall()
        migrate(url)
        report = verify(url)
        assert report.ok, report.problems
        with psycopg.connect(url) as conn:
            # Every column the entries had is unchanged (0005 adds reverses_entry_id, NULL for all of them).
            after = conn.execute("SELECT * FROM ledger_entries ORDER BY seq").fetchall()
            assert [row[: len(before[0])] for row in after] == before
            assert {row[len(before[0]) :] for row in after} == {(None,)}
            # Every column the holds had is unchanged (0003 adds the versions a hold was made and closed at).
            assert [row[: len(holds_before[0])] for row in conn.execute("SELECT * FROM holds")] == holds_before
            assert conn.execute("SELECT count(*) FROM wallet_events").fetchone() == (0,)
            wallet = conn.execute(
                "SELECT balance, held_balance, version, low_balance_threshold FROM wallets"
            ).fetchall()
            assert wallet == [(70, 20, 3, None)]
        asyncio.run(_change_after_upgrade(url))
        with psycopg.connect(url) as conn:
            events = conn.execute("SELECT seq, event_type FROM wallet_events ORDER BY seq").fetchall()
        assert events == [(1, EventType.ENTRY_CREATED.value), (2, EventType.BALANCE_LOW.value)]
        report = verify(url)
        assert report.ok, report.problems


async def _change_after_upgrade(url: str) -> None:
    async with ledger_on(url) as ledger:
        await ledger.transaction.apply([EntryRequest("cus_old", "USD", EntryType.DEBIT, 10, "", "", {})])
        await ledger.transaction.apply([ThresholdRequest("cus_old", "USD", 100)])
