"""The background expirer posts what fell due for wallets nobody reads, through the ordinary write path.

Its postings are changes like any other, so they have their events.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

import psycopg
from psycopg_pool import AsyncConnectionPool

from server.config import Settings
from server.domain.holds import HoldRequest
from server.domain.model import EntryRequest, EntryType
from server.ledger import Ledger
from tests.waiting import eventually, move_past


async def _expirations(pool: AsyncConnectionPool[psycopg.AsyncConnection[Any]], customer_id: str) -> list[int]:
    """The customer's stored expiration amounts, straight from the table (a ledger read would settle first)."""
    async with pool.connection() as conn:
        cursor = await conn.execute(
            "SELECT amount FROM ledger_entries WHERE customer_id = %s AND entry_type = 'expiration' ORDER BY seq",
            (customer_id,),
        )
        return [row[0] for row in await cursor.fetchall()]


async def test_one_pass_settles_idle_customers_with_lapsed_credits_and_expired_holds(
    pool: AsyncConnectionPool[psycopg.AsyncConnection[Any]], customer_id: str
) -> None:
    ledger = Ledger(pool, replace(Settings(), expirer_interval_s=0))
    expires = ledger.clock.now() + timedelta(seconds=10)
    credit = EntryRequest(customer_id, "USD", EntryType.CREDIT, 25, "", "", {}, expire_time=expires)
    hold = HoldRequest(customer_id, "USD", 5, "", "", {}, timedelta(seconds=10))
    await ledger.transaction.apply([credit, hold])
    move_past(ledger.clock, expires + timedelta(milliseconds=5))
    assert await _expirations(pool, customer_id) == []
    while await ledger.expirer.run_once():
        pass
    # The hold expired first (at its own expiry) and returned its 5 to the lapsed credit: 20 then 5, or 25 at once.
    assert sum(await _expirations(pool, customer_id)) == 25
    async with pool.connection() as conn:
        cursor = await conn.execute("SELECT status FROM holds WHERE customer_id = %s", (customer_id,))
        assert await cursor.fetchall() == [("expired",)]
        # Posted expiries have their events, in the order they were applied.
        cursor = await conn.execute(
            "SELECT event_type FROM wallet_events WHERE customer_id = %s ORDER BY seq", (customer_id,)
        )
        kinds = [row[0] for row in await cursor.fetchall()]
    expirations = len(await _expirations(pool, customer_id))
    assert kinds[:2] == ["entry_created", "hold_created"]
    assert sorted(kinds[2:]) == ["entry_created"] * expirations + ["hold_expired"]
    await ledger.close()


async def test_the_running_expirer_catches_up_without_any_read(
    pool: AsyncConnectionPool[psycopg.AsyncConnection[Any]], customer_id: str
) -> None:
    ledger = Ledger(pool, replace(Settings(), expirer_interval_s=0.05))
    ledger.start()
    try:
        expires = ledger.clock.now() + timedelta(seconds=10)
        credit = EntryRequest(customer_id, "USD", EntryType.CREDIT, 7, "", "", {}, expire_time=expires)
        await ledger.transaction.apply([credit])
        move_past(ledger.clock, expires)
        await eventually(lambda: _expirations(pool, customer_id), 60, "the expirer's posting of the expiration")
        assert await _expirations(pool, customer_id) == [7]
    finally:
        await ledger.close()
