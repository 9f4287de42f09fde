"""`batch` on both clients against the real server: per-entry results, keys, retries and atomic refusals."""

from __future__ import annotations

import asyncio

import pytest

from tests.clients.conftest import FAST_RETRY
from tests.clients.faults import Faults
from wallet.v1 import wallet_pb2
from wallet_client import (
    AsyncWalletClient,
    AtomicBatchRefused,
    BatchEntry,
    EntryType,
    IdempotencyKeyReused,
    InsufficientBalance,
    InvalidRequest,
    WalletClient,
)


def credit(customer_id: str, amount: int, key: str | None = None) -> BatchEntry:
    return BatchEntry(customer_id, EntryType.CREDIT, amount, "USD", "top-up", key)


def debit(customer_id: str, amount: int, key: str | None = None) -> BatchEntry:
    return BatchEntry(customer_id, "debit", amount, "USD", "usage", key)


async def test_async_batch_returns_each_entrys_result_or_its_named_error_and_fills_in_keys(
    aclient: AsyncWalletClient, customer_id: str
) -> None:
    results = await aclient.batch(
        [
            credit(customer_id, 100),
            debit(customer_id, 500),
            credit(customer_id, 5, "mine"),
            credit(customer_id, 6, "mine"),
        ]
    )
    applied, refused, mine, reused = results
    assert applied.applied and applied.result is not None and applied.result.wallet.balance == 100
    assert len(applied.idempotency_key) == 36 and applied.result.entry.idempotency_key == applied.idempotency_key
    assert isinstance(refused.error, InsufficientBalance) and refused.error.balance == 100
    assert refused.error.idempotency_key == refused.idempotency_key and not refused.applied
    assert mine.idempotency_key == "mine" and mine.result is not None
    assert isinstance(reused.error, IdempotencyKeyReused) and reused.error.entry_id == mine.result.entry.id


async def test_a_malformed_entry_of_a_batch_is_an_invalid_request_naming_its_field(
    aclient: AsyncWalletClient, customer_id: str
) -> None:
    message = wallet_pb2.CreateLedgerEntryRequest(customer_id=customer_id, amount=1, currency="usd")
    (result,) = await aclient.batch([message])
    assert isinstance(result.error, InvalidRequest)
    assert [v.field for v in result.error.violations] == ["currency"]


async def test_an_atomic_batch_refusal_raises_atomic_batch_refused_with_the_index_and_the_cause(
    aclient: AsyncWalletClient, customer_id: str
) -> None:
    with pytest.raises(AtomicBatchRefused) as raised:
        await aclient.batch([credit(customer_id, 10), debit(customer_id, 6), debit(customer_id, 6)], atomic=True)
    assert raised.value.index == 2
    assert isinstance(raised.value.cause, InsufficientBalance) and raised.value.cause.balance == 4
    assert (await aclient.get_balances(customer_id))["USD"].balance == 0


async def test_a_batch_whose_answer_was_lost_is_sent_again_and_replays(
    proxy: tuple[str, Faults], customer_id: str
) -> None:
    address, faults = proxy
    faults.lose_write_responses = 1
    async with AsyncWalletClient(address, retry=FAST_RETRY) as client:
        results = await client.batch([credit(customer_id, 7), credit(customer_id, 8)])
        assert faults.calls.count("BatchCreateLedgerEntries") == 2
        assert all(r.result is not None and r.result.idempotent_replay for r in results)
        assert (await client.get_balances(customer_id))["USD"].balance == 15


async def test_sync_batch_does_what_the_async_one_does(target: str, customer_id: str) -> None:
    def scenario() -> None:
        with WalletClient(target, retry=FAST_RETRY) as client:
            first = client.batch([credit(customer_id, 50, "k1"), debit(customer_id, 20, "k2")], atomic=True)
            assert [r.result.wallet.balance for r in first if r.result] == [50, 30]
            again = client.batch([credit(customer_id, 50, "k1"), debit(customer_id, 20, "k2")])
            assert [r.result.idempotent_replay for r in again if r.result] == [True, True]
            with pytest.raises(ValueError):
                client.batch([])

    await asyncio.to_thread(scenario)
