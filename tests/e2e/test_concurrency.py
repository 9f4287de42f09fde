"""Many callers at once on one wallet: no overdraft, no double application, balances add up."""

from __future__ import annotations

import asyncio

import grpc
import psycopg

from tests.consistency import assert_ledger_consistent
from tests.e2e.helpers import DEBIT, entry_request
from wallet.v1 import wallet_pb2, wallet_pb2_grpc


async def test_fifty_concurrent_debits_never_overdraw_one_wallet(
    stub: wallet_pb2_grpc.WalletServiceStub, customer_id: str, database_url: str
) -> None:
    await stub.CreateLedgerEntry(entry_request(customer_id, 500))
    results = await asyncio.gather(
        *(stub.CreateLedgerEntry(entry_request(customer_id, 10, DEBIT)) for _ in range(60)),
        return_exceptions=True,
    )
    succeeded = [r for r in results if isinstance(r, wallet_pb2.CreateLedgerEntryResponse)]
    refused = [r for r in results if isinstance(r, grpc.aio.AioRpcError)]
    assert len(succeeded) == 50
    assert len(refused) == 10
    assert all(r.code() == grpc.StatusCode.FAILED_PRECONDITION for r in refused)
    balances = await stub.GetBalances(wallet_pb2.GetBalancesRequest(customer_id=customer_id))
    assert {w.currency: w.balance for w in balances.wallets}["USD"] == 0
    assert sorted(r.entry.after_balance for r in succeeded) == list(range(0, 500, 10))
    assert_ledger_consistent(database_url)


async def test_twenty_simultaneous_identical_requests_create_exactly_one_entry(
    stub: wallet_pb2_grpc.WalletServiceStub, customer_id: str, database_url: str
) -> None:
    request = entry_request(customer_id, 2_500, idempotency_key="welcome_once")
    responses = await asyncio.gather(*(stub.CreateLedgerEntry(request) for _ in range(20)))
    assert len({r.entry.id for r in responses}) == 1
    assert sum(not r.idempotent_replay for r in responses) == 1
    with psycopg.connect(database_url) as conn:
        count = conn.execute("SELECT count(*) FROM ledger_entries WHERE customer_id = %s", (customer_id,)).fetchone()
    assert count == (1,)


async def test_a_mixed_storm_on_one_wallet_keeps_every_outcome_and_the_chain(
    stub: wallet_pb2_grpc.WalletServiceStub, customer_id: str, database_url: str
) -> None:
    """Credits, debits (some refused), replays and key conflicts, all at once on one wallet."""
    await stub.CreateLedgerEntry(entry_request(customer_id, 100))
    calls = []
    for i in range(200):
        if i % 4 == 0:
            calls.append(entry_request(customer_id, 5, idempotency_key=f"credit-{i % 40}"))
        elif i % 4 == 1:
            calls.append(entry_request(customer_id, 37, DEBIT, idempotency_key=f"debit-{i}"))
        elif i % 4 == 2:
            calls.append(entry_request(customer_id, 3, DEBIT))
        else:
            calls.append(entry_request(customer_id, 6, idempotency_key=f"credit-{i % 40 - 3}"))
    results = await asyncio.gather(*(stub.CreateLedgerEntry(c) for c in calls), return_exceptions=True)
    codes = {r.code() for r in results if isinstance(r, grpc.aio.AioRpcError)}
    assert codes <= {grpc.StatusCode.FAILED_PRECONDITION, grpc.StatusCode.ALREADY_EXISTS}
    applied = [r for r in results if isinstance(r, wallet_pb2.CreateLedgerEntryResponse) and not r.idempotent_replay]
    replays = [r for r in results if isinstance(r, wallet_pb2.CreateLedgerEntryResponse) and r.idempotent_replay]
    assert replays, "some keyed credits were repeated and must have replayed"
    assert len({r.entry.id for r in applied}) == len(applied)
    assert_ledger_consistent(database_url)
