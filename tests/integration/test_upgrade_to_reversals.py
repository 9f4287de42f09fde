"""Migration 0005 upgrades a populated database in place: old entries reverse nothing, and can be reversed."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import psycopg

from server.domain.errors import EntryNotReversible
from server.domain.model import EntryRequest, EntryType, ReversalRequest
from server.store.db import migrate
from server.verify import verify
from tests.database import scratch_database
from tests.ledgers import ledger_on

T = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
LATER = datetime(2099, 1, 1, tzinfo=UTC)

# What release 0004 wrote: an expiring credit of 100 (lot), a credit of 50, a debit of 120 drawing 100 from the
# lot and 20 from the pool, and an event of each entry.
_ROWS_0004 = [
    "INSERT INTO ledger_heads (customer_id, last_seq, last_entry_at, last_event_seq) VALUES ('cus_r', 3, %(t)s, 3)",
    """INSERT INTO wallets (customer_id, currency, balance, created_at, updated_at, held_balance, version)
       VALUES ('cus_r', 'USD', 30, %(t)s, %(t)s, 0, 3)""",
    """INSERT INTO ledger_entries (customer_id, seq, id, currency, entry_type, amount, before_balance, after_balance,
                                   created_at, expire_time, wallet_version, wallet_held) VALUES
       ('cus_r', 1, 'le_a', 'USD', 'credit', 100, 0, 100, %(t)s, %(later)s, 1, 0),
       ('cus_r', 2, 'le_b', 'USD', 'credit', 50, 100, 150, %(t)s, NULL, 2, 0),
       ('cus_r', 3, 'le_d', 'USD', 'debit', 120, 150, 30, %(t)s, NULL, 3, 0)""",
    """INSERT INTO credit_lots (customer_id, credit_seq, currency, credit_id, expire_time, amount, remaining, held)
       VALUES ('cus_r', 1, 'USD', 'le_a', %(later)s, 100, 0, 0)""",
    "INSERT INTO credit_draws (customer_id, entry_seq, credit_seq, amount) VALUES ('cus_r', 3, 1, 100)",
]


def test_an_upgraded_database_verifies_and_its_old_entries_are_reversed_like_new_ones(database_url: str) -> None:
    with scratch_database(database_url, migrated=False) as url:
        migrate(url, "0004")
        with psycopg.connect(url) as conn:
            for statement in _ROWS_0004:
                conn.execute(statement, {"t": T, "later": LATER})
            before = conn.execute("SELECT * FROM ledger_entries ORDER BY seq").fetchall()
        migrate(url)
        assert verify(url).problems == []
        with psycopg.connect(url) as conn:
            after = conn.execute("SELECT * FROM ledger_entries ORDER BY seq").fetchall()
            assert [row[: len(before[0])] for row in after] == before
            assert conn.execute("SELECT count(*) FROM stored_refusals").fetchone() == (0,)
        asyncio.run(_reverse_after_upgrade(url))
        assert verify(url).problems == []


async def _reverse_after_upgrade(url: str) -> None:
    async with ledger_on(url) as ledger:
        refund = await ledger.reverse(ReversalRequest("cus_r", "le_d", 30, "", "r-1", {}))
        assert (refund.entry.amount, refund.wallet.balance, refund.original.reversed_amount) == (30, 60, 30)
        reclaim = await ledger.reverse(ReversalRequest("cus_r", "le_a", 0, "", "r-2", {}))
        # The 10 refunded to le_a is its only unspent money.
        assert (reclaim.entry.amount, reclaim.wallet.balance) == (10, 50)
        try:
            await ledger.reverse(ReversalRequest("cus_r", refund.entry.id, 0, "", "", {}))
        except EntryNotReversible:
            pass
        else:
            raise AssertionError("a reversal was reversed")
        debit = await ledger.create_entry(EntryRequest("cus_r", "USD", EntryType.DEBIT, 5, "", "", {}))
        assert debit.wallet.balance == 45
        assert debit.entry.created_at >= T - timedelta(seconds=1)
