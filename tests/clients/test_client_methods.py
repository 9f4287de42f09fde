"""Each client method, blocking and asyncio, against the real server and PostgreSQL.

The blocking client runs in a worker thread (asyncio.to_thread): the server
runs on this test's event loop, which must keep turning while it waits.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from server.ledger.clock import Clock
from tests.clients.conftest import FAST_RETRY
from wallet_client import AsyncWalletClient, Balances, EntryResult, EntryType, LedgerEntry, WalletClient


async def test_async_get_balances_of_a_new_customer_lists_every_supported_currency_at_zero(
    aclient: AsyncWalletClient, customer_id: str
) -> None:
    balances = await aclient.get_balances(customer_id)
    assert isinstance(balances, Balances)
    assert balances.customer_id == customer_id
    assert [(w.currency, w.balance, w.minor_unit_exponent, w.updated_at) for w in balances] == [
        ("INR", 0, 2, None),
        ("USD", 0, 2, None),
    ]
    assert balances.get("EUR") is None


async def test_async_credit_and_debit_return_typed_entries_and_wallets(
    aclient: AsyncWalletClient, customer_id: str, clock: Clock
) -> None:
    credited = await aclient.credit(customer_id, 10_000, "USD", reason="Welcome bonus", metadata={"campaign": "x"})
    assert isinstance(credited, EntryResult)
    entry = credited.entry
    assert (entry.entry_type, entry.amount, entry.before_balance, entry.after_balance) == (
        EntryType.CREDIT,
        10_000,
        0,
        10_000,
    )
    assert isinstance(entry.amount, int)
    assert entry.reason == "Welcome bonus"
    assert dict(entry.metadata) == {"campaign": "x"}
    assert entry.created_at.tzinfo is not None
    assert abs(clock.now() - entry.created_at) < timedelta(minutes=5)
    # The client made up a key, so even this call could have been retried safely.
    assert len(entry.idempotency_key) == 36
    assert not credited.idempotent_replay

    debited = await aclient.debit(customer_id, 1_250, "USD", reason="API usage")
    assert (debited.entry.entry_type, debited.entry.after_balance) == (EntryType.DEBIT, 8_750)
    assert debited.wallet.balance == 8_750
    assert debited.entry.idempotency_key != entry.idempotency_key
    assert (await aclient.get_balances(customer_id))["USD"].balance == 8_750


async def test_async_create_entry_with_the_same_key_twice_applies_once(
    aclient: AsyncWalletClient, customer_id: str
) -> None:
    first = await aclient.create_entry(customer_id, "credit", 500, "INR", reason="top-up", idempotency_key="pay_1")
    again = await aclient.create_entry(
        customer_id, EntryType.CREDIT, 500, "INR", reason="top-up", idempotency_key="pay_1"
    )
    assert again.idempotent_replay
    assert again.entry == first.entry
    assert (await aclient.get_balances(customer_id))["INR"].balance == 500


async def test_async_iter_entries_streams_with_filters(aclient: AsyncWalletClient, customer_id: str) -> None:
    for amount in (100, 200, 300):
        await aclient.credit(customer_id, amount, "USD", reason="credit")
    await aclient.debit(customer_id, 50, "USD", reason="usage")
    await aclient.credit(customer_id, 7, "INR", reason="credit")

    everything = [e async for e in aclient.iter_entries(customer_id)]
    assert [(e.currency, e.amount) for e in everything] == [
        ("USD", 100),
        ("USD", 200),
        ("USD", 300),
        ("USD", 50),
        ("INR", 7),
    ]
    assert all(isinstance(e, LedgerEntry) for e in everything)

    credits_usd = [e.amount async for e in aclient.iter_entries(customer_id, currency="USD", entry_type="credit")]
    assert credits_usd == [100, 200, 300]
    newest = [e.amount async for e in aclient.iter_entries(customer_id, newest_first=True, limit=2)]
    assert newest == [7, 50]
    after_second = [e.amount async for e in aclient.iter_entries(customer_id, start_after_id=everything[1].id)]
    assert after_second == [300, 50, 7]
    window = [
        e.amount
        async for e in aclient.iter_entries(
            customer_id, created_after=everything[0].created_at, created_before=everything[0].created_at
        )
    ]
    assert window == []


async def test_sync_client_does_what_the_async_one_does(target: str, customer_id: str) -> None:
    def scenario() -> None:
        with WalletClient(target, retry=FAST_RETRY) as client:
            assert client.get_balances(customer_id)["USD"].balance == 0
            credited = client.credit(customer_id, 10_000, "USD", reason="Welcome bonus")
            assert (credited.entry.amount, credited.wallet.balance) == (10_000, 10_000)
            debited = client.debit(customer_id, 2_500, "USD", reason="API usage", idempotency_key="use_1")
            assert debited.wallet.balance == 7_500
            replayed = client.create_entry(
                customer_id, EntryType.DEBIT, 2_500, "USD", reason="API usage", idempotency_key="use_1"
            )
            assert replayed.idempotent_replay and replayed.entry.id == debited.entry.id
            entries = list(client.iter_entries(customer_id))
            assert [e.id for e in entries] == [credited.entry.id, debited.entry.id]
            assert [e.amount for e in client.iter_entries(customer_id, entry_type=EntryType.DEBIT)] == [2_500]
            assert client.get_balances(customer_id)["USD"].balance == 7_500

    await asyncio.to_thread(scenario)


async def test_the_target_comes_from_wallet_addr(
    target: str, customer_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WALLET_ADDR", target)
    async with AsyncWalletClient() as client:
        assert client.settings.target == target
        assert (await client.get_balances(customer_id)).customer_id == customer_id


async def test_amounts_must_be_int_minor_units(aclient: AsyncWalletClient, customer_id: str) -> None:
    with pytest.raises(TypeError, match="int of minor units"):
        await aclient.credit(customer_id, 1.5, "USD")  # type: ignore[arg-type]


async def test_a_caller_that_stops_reading_early_gets_no_more_entries(
    aclient: AsyncWalletClient, customer_id: str
) -> None:
    for amount in (1, 2, 3):
        await aclient.credit(customer_id, amount, "USD")
    seen = []
    async for entry in aclient.iter_entries(customer_id):
        seen.append(entry.amount)
        if len(seen) == 2:
            break
    assert seen == [1, 2]
