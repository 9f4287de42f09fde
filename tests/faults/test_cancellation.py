"""Goal: a caller that cancels mid-call, or whose deadline expires inside the transaction, gets all or nothing.

Method: against the real server (in this process, on the test database), a
CreateLedgerEntry with an idempotency key is cancelled, or runs out of
deadline, (a) while its transaction waits for the customer's lock, held by
another session, and (b) at random moments of a concurrent burst. After the
dust settles each key is in the ledger zero or one time; a retry with the
same key then leaves exactly one entry, and says it was a replay exactly when
the first call had in fact been applied. The whole ledger stays consistent.
"""

from __future__ import annotations

import asyncio
import logging
import random
from typing import Any

import grpc
import psycopg
import pytest
from psycopg_pool import AsyncConnectionPool

from server.app import WalletServer
from tests.consistency import assert_ledger_consistent
from tests.e2e.helpers import DEBIT, entry_request
from tests.waiting import eventually
from wallet.v1 import wallet_pb2, wallet_pb2_grpc

logger = logging.getLogger(__name__)


async def _settled(pool: AsyncConnectionPool[Any]) -> None:
    """Waits until the server holds no database connection: every cancelled write has committed or not."""

    def idle() -> bool:
        stats = pool.get_stats()
        return stats.get("pool_available", 0) == stats.get("pool_size", -1) and stats.get("requests_waiting", 0) == 0

    await eventually(idle, 30, "the server to hold no database connection")


async def _entries_by_key(database_url: str, customer_id: str) -> dict[str, int]:
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        cursor = await conn.execute(
            "SELECT idempotency_key, count(*) FROM ledger_entries WHERE customer_id = %s GROUP BY 1", (customer_id,)
        )
        return {key: count for key, count in await cursor.fetchall()}


async def _wait_for_lock_waiter(database_url: str) -> None:
    """Waits until a session of the wallet server is blocked on a row lock."""
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:

        async def waiting() -> bool:
            cursor = await conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                " AND application_name = 'wallet-server' AND wait_event_type = 'Lock'"
            )
            row = await cursor.fetchone()
            return row is not None and row[0] > 0

        await eventually(waiting, 30, "a wallet-server session waiting for the lock")


@pytest.mark.parametrize("how", ["cancel", "deadline"])
async def test_a_call_abandoned_while_its_transaction_waits_for_the_lock_leaves_all_or_nothing(
    wallet_server: tuple[WalletServer, str],
    stub: wallet_pb2_grpc.WalletServiceStub,
    customer_id: str,
    database_url: str,
    how: str,
) -> None:
    server, _ = wallet_server
    await stub.CreateLedgerEntry(entry_request(customer_id, 100))
    request = entry_request(customer_id, 40, DEBIT, idempotency_key=f"abandoned-{how}")
    async with await psycopg.AsyncConnection.connect(database_url) as blocker:
        await blocker.execute("SELECT 1 FROM ledger_heads WHERE customer_id = %s FOR UPDATE", (customer_id,))
        # The deadline must outlast the time the write takes to reach the lock, on a loaded machine too.
        call = stub.CreateLedgerEntry(request, timeout=2.0 if how == "deadline" else None)
        await _wait_for_lock_waiter(database_url)
        if how == "cancel":
            call.cancel()
            with pytest.raises(asyncio.CancelledError):
                await call
        else:
            with pytest.raises(grpc.aio.AioRpcError) as raised:
                await call
            assert raised.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
        await blocker.rollback()
    await _settled(server.pool)
    before_retry = (await _entries_by_key(database_url, customer_id)).get(request.idempotency_key, 0)
    assert before_retry in (0, 1)
    retried = await stub.CreateLedgerEntry(request, timeout=10)
    assert retried.idempotent_replay == (before_retry == 1)
    assert (await _entries_by_key(database_url, customer_id))[request.idempotency_key] == 1
    balances = await stub.GetBalances(wallet_pb2.GetBalancesRequest(customer_id=customer_id))
    assert {w.currency: w.balance for w in balances.wallets}["USD"] == 60
    assert_ledger_consistent(database_url)


@pytest.mark.parametrize("how", ["cancel", "deadline"])
async def test_calls_abandoned_at_random_moments_of_a_burst_apply_each_key_at_most_once_and_retries_exactly_once(
    wallet_server: tuple[WalletServer, str],
    stub: wallet_pb2_grpc.WalletServiceStub,
    customer_id: str,
    database_url: str,
    how: str,
) -> None:
    server, _ = wallet_server
    rng = random.Random(7)
    await stub.CreateLedgerEntry(entry_request(customer_id, 1_000_000))
    requests = [
        entry_request(customer_id, rng.randint(1, 500), rng.choice([DEBIT, 1]), idempotency_key=f"burst-{how}-{i}")
        for i in range(60)
    ]

    async def abandon(request: wallet_pb2.CreateLedgerEntryRequest) -> str:
        delay = rng.uniform(0, 0.1)
        if how == "deadline":
            try:
                await stub.CreateLedgerEntry(request, timeout=max(delay, 0.001))
            except grpc.aio.AioRpcError as error:
                assert error.code() == grpc.StatusCode.DEADLINE_EXCEEDED, error
                return "expired"
            return "ok"
        call = stub.CreateLedgerEntry(request)
        await asyncio.sleep(delay)  # real time: the cancel must land at a random moment of the call
        if call.cancel():
            return "cancelled"
        await call
        return "ok"

    endings = await asyncio.gather(*(abandon(r) for r in requests))
    await _settled(server.pool)
    first = await _entries_by_key(database_url, customer_id)
    assert all(count == 1 for count in first.values()), first
    retried = await asyncio.gather(*(stub.CreateLedgerEntry(r, timeout=10) for r in requests))
    final = await _entries_by_key(database_url, customer_id)
    keys = [r.idempotency_key for r in requests]
    assert all(final[key] == 1 for key in keys), final
    # A retry replays exactly the requests that had been applied before it.
    assert [response.idempotent_replay for response in retried] == [key in first for key in keys]
    abandoned = [key for key, ending in zip(keys, endings, strict=True) if ending != "ok"]
    # Every call that returned OK was applied; an abandoned one may or may not have been.
    assert all(key in first for key, ending in zip(keys, endings, strict=True) if ending == "ok")
    applied_anyway = sum(key in first for key in abandoned)
    logger.info(
        "%s: %d of %d abandoned, %d of those applied all the same", how, len(abandoned), len(keys), applied_anyway
    )
    assert_ledger_consistent(database_url)
