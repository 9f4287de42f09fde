"""Goal: a batch split over write shards reports a failed shard's entries one by one; a retry applies each once.

Method: the server splits a batch's entries by customer over two shards
(server/ledger/write_shards.py). The test holds one customer's ledger lock
from outside (`tests.faults.locks`), so that customer's shard waits inside its
transaction until the server's short lock timeout fails it, while the other
shard commits. The batch must come back with the other customer's entries
applied and each locked entry carrying LOCK_TIMEOUT (retryable), not fail as
a whole. Retried with the same keys once the lock is gone, the locked
customer's entries apply and the others replay: each entry exactly once.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace

import grpc
import pytest_asyncio

from server.app import create_server
from server.config import Settings
from server.ledger.write_shards import shard_of
from tests.consistency import assert_ledger_consistent
from tests.e2e.helpers import entry_request
from tests.faults.locks import locked_customer, wait_for_lock_waiter
from wallet.v1 import wallet_pb2, wallet_pb2_grpc

SHARDS = 2
Stub = wallet_pb2_grpc.WalletServiceStub


@pytest_asyncio.fixture
async def stub(settings: Settings, database_url: str) -> AsyncIterator[Stub]:
    """A server with two batch shards and a lock timeout short enough to wait out."""
    quick = replace(settings, metrics_addr="", write_shards=SHARDS, lock_timeout_ms=500)
    server, port = await create_server(quick, database_url)
    await server.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            yield wallet_pb2_grpc.WalletServiceStub(channel)
    finally:
        await server.stop(1.0)


def one_per_shard(customer_id: str) -> list[str]:
    """Customers named after `customer_id`, the first in shard 0 and the second in shard 1."""
    found: dict[int, str] = {}
    suffix = 0
    while len(found) < SHARDS:
        candidate = f"{customer_id}_{suffix}"
        found.setdefault(shard_of(candidate, SHARDS), candidate)
        suffix += 1
    return [found[shard] for shard in range(SHARDS)]


def outcome(result: wallet_pb2.BatchEntryResult) -> str:
    if result.HasField("error"):
        return result.error.reason
    return "replayed" if result.response.idempotent_replay else "applied"


async def test_a_shard_that_fails_marks_only_its_own_entries_and_a_retry_applies_each_entry_once(
    stub: Stub, database_url: str, customer_id: str
) -> None:
    locked, free = one_per_shard(customer_id)
    for customer in (locked, free):
        await stub.CreateLedgerEntry(entry_request(customer, 1000))
    request = wallet_pb2.BatchCreateLedgerEntriesRequest(
        requests=[
            entry_request(locked, 10, idempotency_key="a"),
            entry_request(free, 20, idempotency_key="b"),
            entry_request(locked, 30, idempotency_key="c"),
            entry_request(free, 40, idempotency_key="d"),
        ]
    )

    with locked_customer(database_url, locked):
        pending = asyncio.ensure_future(stub.BatchCreateLedgerEntries(request))
        await asyncio.to_thread(wait_for_lock_waiter, database_url)
        first = await pending
    retried = await stub.BatchCreateLedgerEntries(request)

    assert [outcome(r) for r in first.results] == ["LOCK_TIMEOUT", "applied", "LOCK_TIMEOUT", "applied"]
    assert first.results[0].error.code == grpc.StatusCode.ABORTED.value[0]
    assert [outcome(r) for r in retried.results] == ["applied", "replayed", "applied", "replayed"]
    balances = {}
    for customer in (locked, free):
        response = await stub.GetBalances(wallet_pb2.GetBalancesRequest(customer_id=customer))
        balances[customer] = {w.currency: w.balance for w in response.wallets}["USD"]
    assert balances == {locked: 1040, free: 1060}
    assert_ledger_consistent(database_url)
