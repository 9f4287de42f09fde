"""Migration 0003 upgrades a database with holds in place: every hold learns the wallet versions it made."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import psycopg

from server.domain.holds import HoldRequest
from server.store.db import migrate
from server.verify import verify
from tests.database import scratch_database
from tests.ledgers import ledger_on


def t(minute: int) -> datetime:
    return datetime(2026, 11, 1, 12, minute, tzinfo=UTC)


# What release 0002 wrote: a credit of 1000 (t1), hold A of 300 made (t2) and released (t3), hold B of 200
# made (t4) and captured for 150 (t5), hold C of 100 made (t6) and still active.
_ROWS_0002 = [
    "INSERT INTO ledger_heads (customer_id, last_seq, last_entry_at) VALUES ('cus_h', 2, %(t5)s)",
    """INSERT INTO wallets (customer_id, currency, balance, created_at, updated_at, held_balance, version)
       VALUES ('cus_h', 'USD', 850, %(t1)s, %(t5)s, 100, 6)""",
    """INSERT INTO ledger_entries (customer_id, seq, id, currency, entry_type, amount, before_balance, after_balance,
                                   created_at, hold_id, wallet_version, wallet_held) VALUES
       ('cus_h', 1, 'le_1', 'USD', 'credit', 1000, 0, 1000, %(t1)s, NULL, 1, 0),
       ('cus_h', 2, 'le_2', 'USD', 'debit', 150, 1000, 850, %(t5)s, 'hd_b', 5, 0)""",
    """INSERT INTO holds (customer_id, id, currency, amount, status, captured_amount, capture_entry_id, created_at,
                          expire_time, closed_at, ttl_ms, reservations) VALUES
       ('cus_h', 'hd_a', 'USD', 300, 'released', 0, NULL, %(t2)s, %(t9)s, %(t3)s, 60000, '[[0, 300]]'),
       ('cus_h', 'hd_b', 'USD', 200, 'captured', 150, 'le_2', %(t4)s, %(t9)s, %(t5)s, 60000, '[[0, 200]]'),
       ('cus_h', 'hd_c', 'USD', 100, 'active', 0, NULL, %(t6)s, '2999-01-01T00:00:00Z', NULL, 60000, '[[0, 100]]')""",
]


def test_an_upgraded_database_knows_each_holds_versions_and_shows_balances_as_they_stood(database_url: str) -> None:
    with scratch_database(database_url, migrated=False) as url:
        migrate(url, "0002")
        with psycopg.connect(url) as conn:
            for statement in _ROWS_0002:
                conn.execute(statement, {f"t{n}": t(n) for n in range(1, 10)})
        migrate(url)
        assert verify(url).ok
        with psycopg.connect(url) as conn:
            versions = conn.execute("SELECT id, created_version, closed_version FROM holds ORDER BY id").fetchall()
            indexes = conn.execute("SELECT indexname FROM pg_indexes WHERE indexname LIKE '%%_idx'").fetchall()
        assert versions == [("hd_a", 2, 3), ("hd_b", 4, 5), ("hd_c", 6, None)]
        assert {"ledger_entries_wallet_time_idx", "holds_closed_idx"} <= {name for (name,) in indexes}
        asyncio.run(_balances_as_they_stood(url))


async def _balances_as_they_stood(url: str) -> None:
    expected = {
        t(1): (0, 0, 0),
        t(2): (1000, 0, 1),
        t(3): (1000, 300, 2),
        t(4): (1000, 0, 3),
        t(5): (1000, 200, 4),
        t(6): (850, 0, 5),
        t(7): (850, 100, 6),
    }
    async with ledger_on(url) as ledger:
        # As of an event's own instant it has not happened yet.
        for moment, (balance, held, version) in expected.items():
            wallets = {w.currency: w for w in await ledger.get_balances("cus_h", moment)}
            usd = wallets["USD"]
            assert (usd.balance, usd.held_balance, usd.version) == (balance, held, version), moment
        # A hold made after the upgrade records its versions as it goes.
        outcome = await ledger.create_hold(HoldRequest("cus_h", "USD", 50, "", "", {}, timedelta(minutes=5)))
        assert (outcome.hold.created_version, outcome.wallet.version) == (7, 7)
