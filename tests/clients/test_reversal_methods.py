"""reverse() through both clients, and its refusals as named exceptions, against the real server and PostgreSQL.

The blocking client runs in a worker thread (asyncio.to_thread): the server
runs on this test's event loop, which must keep turning while it waits.
"""

from __future__ import annotations

import asyncio

import pytest

from tests.clients.conftest import FAST_RETRY
from wallet_client import (
    AsyncWalletClient,
    EntryNotFound,
    EntryNotReversible,
    EntryType,
    InsufficientBalance,
    ReversalExceedsEntry,
    ReversalResult,
    WalletClient,
)


async def test_the_async_client_refunds_part_of_a_debit_and_replays_its_key(
    aclient: AsyncWalletClient, customer_id: str
) -> None:
    await aclient.credit(customer_id, 1_000, "USD")
    charge = (await aclient.debit(customer_id, 400, "USD", metadata={"call": "c7"})).entry
    result = await aclient.reverse(customer_id, charge.id, 150, reason="call failed", idempotency_key="r-1")
    assert isinstance(result, ReversalResult) and not result.idempotent_replay
    assert (result.entry.entry_type, result.entry.amount, result.entry.reverses_entry_id) == (
        EntryType.CREDIT,
        150,
        charge.id,
    )
    assert dict(result.entry.metadata) == {"call": "c7"}
    assert (result.original.id, result.original.reversed_amount, result.wallet.balance) == (charge.id, 150, 750)
    again = await aclient.reverse(customer_id, charge.id, 150, reason="call failed", idempotency_key="r-1")
    assert again.idempotent_replay and again.entry == result.entry
    with pytest.raises(ReversalExceedsEntry) as refused:
        await aclient.reverse(customer_id, charge.id, 251)
    assert (refused.value.entry_id, refused.value.amount, refused.value.reversible) == (charge.id, 251, 250)
    listed = [entry async for entry in aclient.iter_entries(customer_id)]
    assert {e.id: e.reversed_amount for e in listed}[charge.id] == 150


async def test_the_blocking_client_reclaims_a_credit_and_names_each_refusal(target: str, customer_id: str) -> None:
    def run() -> None:
        with WalletClient(target, retry=FAST_RETRY) as client:
            credit = client.credit(customer_id, 500, "INR", reason="goodwill").entry
            reclaim = client.reverse(customer_id, credit.id, reason="given by mistake")
            assert (reclaim.entry.entry_type, reclaim.entry.amount, reclaim.wallet.balance) == (EntryType.DEBIT, 500, 0)
            with pytest.raises(EntryNotReversible):
                client.reverse(customer_id, reclaim.entry.id)
            with pytest.raises(EntryNotFound) as missing:
                client.reverse(customer_id, "le_missing")
            assert missing.value.entry_id == "le_missing"

    await asyncio.to_thread(run)


async def test_a_refusal_replayed_after_a_top_up_says_it_was_replayed(
    aclient: AsyncWalletClient, customer_id: str
) -> None:
    with pytest.raises(InsufficientBalance) as first:
        await aclient.debit(customer_id, 300, "USD", idempotency_key="charge-9")
    assert not first.value.replayed
    await aclient.credit(customer_id, 1_000, "USD")
    with pytest.raises(InsufficientBalance) as again:
        await aclient.debit(customer_id, 300, "USD", idempotency_key="charge-9")
    assert again.value.replayed and (again.value.balance, again.value.amount) == (0, 300)
