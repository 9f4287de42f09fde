"""The ledger use case against a real PostgreSQL: one batch, many customers, each outcome its own."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import psycopg
from psycopg_pool import AsyncConnectionPool

from server.config import Settings, parse_currencies
from server.domain.errors import IdempotencyKeyReused, InsufficientFunds
from server.domain.model import Applied, EntryRequest, EntryType
from server.ledger import Ledger


def credit(customer_id: str, amount: int, key: str = "", currency: str = "USD") -> EntryRequest:
    return EntryRequest(customer_id, currency, EntryType.CREDIT, amount, "r", key, {})


def debit(customer_id: str, amount: int, key: str = "") -> EntryRequest:
    return EntryRequest(customer_id, "USD", EntryType.DEBIT, amount, "r", key, {})


async def test_one_batch_decides_each_request_in_order_as_if_it_ran_alone(
    pool: AsyncConnectionPool[psycopg.AsyncConnection[Any]], customer_id: str
) -> None:
    ledger = Ledger(pool, Settings())
    other = customer_id + "_other"
    outcomes = await ledger.transaction.apply(
        [
            debit(customer_id, 5),  # refused: nothing there yet
            credit(customer_id, 10, key="a"),
            credit(other, 3, currency="INR"),
            credit(customer_id, 10, key="a"),  # replay of the second request, inside the batch
            credit(customer_id, 11, key="a"),  # same key, other amount
            debit(customer_id, 4),
        ]
    )
    assert isinstance(outcomes[0], InsufficientFunds)
    assert isinstance(outcomes[1], Applied) and not outcomes[1].idempotent_replay
    assert isinstance(outcomes[2], Applied) and outcomes[2].wallet.balance == 3
    assert isinstance(outcomes[3], Applied) and outcomes[3].idempotent_replay
    assert outcomes[3].entry == outcomes[1].entry
    assert isinstance(outcomes[4], IdempotencyKeyReused)
    assert isinstance(outcomes[5], Applied)
    assert (outcomes[5].entry.before_balance, outcomes[5].entry.after_balance) == (10, 6)
    assert [outcomes[1].entry.seq, outcomes[5].entry.seq] == [1, 2]

    balances = {w.currency: w.balance for w in await ledger.get_balances(customer_id)}
    await ledger.close()
    assert balances == {"INR": 0, "USD": 6}


async def test_a_batch_of_only_refusals_writes_nothing_at_all(
    pool: AsyncConnectionPool[psycopg.AsyncConnection[Any]], customer_id: str
) -> None:
    ledger = Ledger(pool, replace(Settings(), currencies=parse_currencies("USD:2")))
    outcomes = await ledger.transaction.apply([debit(customer_id, 1), debit(customer_id, 2)])
    assert all(isinstance(o, InsufficientFunds) for o in outcomes)
    async with pool.connection() as conn:
        cursor = await conn.execute("SELECT count(*) FROM ledger_heads WHERE customer_id = %s", (customer_id,))
        assert await cursor.fetchone() == (0,)
