"""Migration 0002 upgrades a database written by the previous release in place, losing and changing nothing."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime

import psycopg

from server.domain.errors import InsufficientFunds
from server.domain.model import EntryRequest, EntryType
from server.store.db import migrate
from server.verify import verify
from tests.database import scratch_database
from tests.ledgers import ledger_on

T = datetime(2026, 11, 1, tzinfo=UTC)

# What the previous release wrote for one customer: credits 100 and 50, a keyed debit of 120.
_PREVIOUS_RELEASE_ROWS = [
    "INSERT INTO ledger_heads (customer_id, last_seq, last_entry_at) VALUES ('cus_old', 4, %(t)s)",
    "INSERT INTO wallets VALUES ('cus_old', 'USD', 30, %(t)s, %(t)s), ('cus_old', 'INR', 7, %(t)s, %(t)s)",
    """INSERT INTO ledger_entries (customer_id, seq, id, currency, entry_type, amount, before_balance, after_balance,
                                   reason, idempotency_key, metadata, created_at, created_by) VALUES
       ('cus_old', 1, 'le_1', 'USD', 'credit', 100, 0, 100, 'bonus', NULL, '{}', %(t)s, ''),
       ('cus_old', 2, 'le_2', 'USD', 'credit', 50, 100, 150, 'top-up', 'k-topup', '{}', %(t)s, ''),
       ('cus_old', 3, 'le_3', 'USD', 'debit', 120, 150, 30, 'usage', 'k-usage', '{"model": "m1"}', %(t)s, 'svc'),
       ('cus_old', 4, 'le_4', 'INR', 'credit', 7, 0, 7, '', NULL, '{}', %(t)s, '')""",
]


def test_an_upgraded_database_keeps_every_row_passes_the_verifier_and_spends_old_credits(database_url: str) -> None:
    with scratch_database(database_url, migrated=False) as url:
        migrate(url, "0001")
        with psycopg.connect(url) as conn:
            for statement in _PREVIOUS_RELEASE_ROWS:
                conn.execute(statement, {"t": T})
            before = conn.execute("SELECT * FROM ledger_entries ORDER BY seq").fetchall()
        migrate(url)
        report = verify(url)
        assert report.ok, report.problems
        with psycopg.connect(url) as conn:
            after = conn.execute(
                "SELECT customer_id, seq, id, currency, entry_type, amount, before_balance, after_balance, reason,"
                " idempotency_key, metadata, created_at, created_by FROM ledger_entries ORDER BY seq"
            ).fetchall()
            wallets = conn.execute("SELECT currency, balance, held_balance, version FROM wallets ORDER BY 1").fetchall()
            versions = conn.execute("SELECT seq, wallet_version FROM ledger_entries ORDER BY seq").fetchall()
        assert after == before
        assert wallets == [("INR", 7, 0, 1), ("USD", 30, 0, 3)]
        assert versions == [(1, 1), (2, 2), (3, 3), (4, 1)]
        asyncio.run(_spend_after_upgrade(url))
        assert verify(url).ok


async def _spend_after_upgrade(url: str) -> None:
    """The old credits are never-expiring money: 30 can be spent, 31 cannot; an old key still replays."""
    async with ledger_on(url) as ledger:
        debit = EntryRequest("cus_old", "USD", EntryType.DEBIT, 31, "", "", {})
        outcomes = await ledger.transaction.apply(
            [
                debit,
                replace(debit, amount=30),
                EntryRequest("cus_old", "USD", EntryType.DEBIT, 120, "usage", "k-usage", {"model": "m1"}, "svc"),
            ]
        )
        assert isinstance(outcomes[0], InsufficientFunds)
        assert [getattr(o, "idempotent_replay", None) for o in outcomes[1:]] == [False, True]
