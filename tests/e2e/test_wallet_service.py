"""End to end through the generated stubs: the happy paths and the refusals of WalletService."""

from __future__ import annotations

import asyncio

import grpc
import pytest

from tests.e2e.helpers import CREDIT, DEBIT, entry_request, error_info
from tests.seeding import seed_credits
from wallet.v1 import wallet_pb2, wallet_pb2_grpc


async def test_a_never_seen_customer_has_a_zero_wallet_in_every_supported_currency(
    stub: wallet_pb2_grpc.WalletServiceStub, customer_id: str
) -> None:
    response = await stub.GetBalances(wallet_pb2.GetBalancesRequest(customer_id=customer_id))
    assert response.customer_id == customer_id
    assert [(w.currency, w.balance, w.minor_unit_exponent) for w in response.wallets] == [
        ("INR", 0, 2),
        ("USD", 0, 2),
    ]
    assert not response.wallets[0].HasField("created_at")


async def test_a_credit_returns_the_entry_and_the_wallet_right_after_it(
    stub: wallet_pb2_grpc.WalletServiceStub, customer_id: str
) -> None:
    response = await stub.CreateLedgerEntry(
        entry_request(customer_id, 10_000, reason="Welcome bonus", metadata={"campaign": "launch"})
    )
    entry = response.entry
    assert entry.id.startswith("le_")
    assert (entry.customer_id, entry.currency, entry.entry_type, entry.amount) == (
        customer_id,
        "USD",
        CREDIT,
        10_000,
    )
    assert (entry.before_balance, entry.after_balance) == (0, 10_000)
    assert entry.reason == "Welcome bonus"
    assert dict(entry.metadata) == {"campaign": "launch"}
    assert response.wallet.balance == 10_000
    assert response.wallet.updated_at == entry.created_at
    assert not response.idempotent_replay

    balances = await stub.GetBalances(wallet_pb2.GetBalancesRequest(customer_id=customer_id))
    assert {w.currency: w.balance for w in balances.wallets} == {"INR": 0, "USD": 10_000}


async def test_a_debit_lowers_the_balance_and_records_before_and_after(
    stub: wallet_pb2_grpc.WalletServiceStub, customer_id: str
) -> None:
    await stub.CreateLedgerEntry(entry_request(customer_id, 5_000))
    response = await stub.CreateLedgerEntry(entry_request(customer_id, 1_250, DEBIT, reason="API usage"))
    assert (response.entry.before_balance, response.entry.after_balance) == (5_000, 3_750)
    assert response.wallet.balance == 3_750


async def test_currencies_keep_separate_balances(stub: wallet_pb2_grpc.WalletServiceStub, customer_id: str) -> None:
    await stub.CreateLedgerEntry(entry_request(customer_id, 20_000, currency="USD"))
    await stub.CreateLedgerEntry(entry_request(customer_id, 1_500_000, currency="INR"))
    balances = await stub.GetBalances(wallet_pb2.GetBalancesRequest(customer_id=customer_id))
    assert {w.currency: w.balance for w in balances.wallets} == {"INR": 1_500_000, "USD": 20_000}


async def test_a_debit_beyond_the_balance_is_refused_and_writes_nothing(
    stub: wallet_pb2_grpc.WalletServiceStub, customer_id: str
) -> None:
    await stub.CreateLedgerEntry(entry_request(customer_id, 1_200))
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await stub.CreateLedgerEntry(entry_request(customer_id, 5_000, DEBIT, idempotency_key="usage-1"))
    assert raised.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "Insufficient balance" in (raised.value.details() or "")
    info = error_info(raised.value)
    assert info.reason == "INSUFFICIENT_WALLET_FUNDS"
    assert dict(info.metadata) == {
        "balance": "1200",
        "amount": "5000",
        "currency": "USD",
        "held_balance": "0",
        "available_balance": "1200",
    }

    entries = [
        e
        async for m in stub.ListLedgerEntries(wallet_pb2.ListLedgerEntriesRequest(customer_id=customer_id))
        for e in m.entries
    ]
    assert [e.amount for e in entries] == [1_200]
    balances = await stub.GetBalances(wallet_pb2.GetBalancesRequest(customer_id=customer_id))
    assert {w.currency: w.balance for w in balances.wallets}["USD"] == 1_200


async def test_a_refused_debit_of_a_new_customer_leaves_no_wallet_behind(
    stub: wallet_pb2_grpc.WalletServiceStub, customer_id: str
) -> None:
    with pytest.raises(grpc.aio.AioRpcError):
        await stub.CreateLedgerEntry(entry_request(customer_id, 1, DEBIT))
    balances = await stub.GetBalances(wallet_pb2.GetBalancesRequest(customer_id=customer_id))
    assert all(not w.HasField("created_at") and w.balance == 0 for w in balances.wallets)


async def test_a_repeated_idempotency_key_replays_the_original_response(
    stub: wallet_pb2_grpc.WalletServiceStub, customer_id: str
) -> None:
    request = entry_request(customer_id, 10_000, idempotency_key="purchase_pay_1", metadata={"k": "v"})
    first = await stub.CreateLedgerEntry(request)
    await stub.CreateLedgerEntry(entry_request(customer_id, 1))
    again = await stub.CreateLedgerEntry(request)
    assert again.idempotent_replay
    assert again.entry == first.entry
    assert again.wallet == first.wallet
    balances = await stub.GetBalances(wallet_pb2.GetBalancesRequest(customer_id=customer_id))
    assert {w.currency: w.balance for w in balances.wallets}["USD"] == 10_001


@pytest.mark.parametrize(
    "change",
    [
        {"amount": 10_001},
        {"currency": "INR"},
        {"entry_type": DEBIT},
        {"reason": "another reason"},
        {"metadata": {"k": "other"}},
    ],
)
async def test_a_reused_idempotency_key_with_other_parameters_is_refused(
    stub: wallet_pb2_grpc.WalletServiceStub, customer_id: str, change: dict[str, object]
) -> None:
    arguments: dict[str, object] = {"amount": 10_000, "idempotency_key": "key-1", "metadata": {"k": "v"}}
    first = await stub.CreateLedgerEntry(entry_request(customer_id, **arguments))  # type: ignore[arg-type]
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await stub.CreateLedgerEntry(entry_request(customer_id, **{**arguments, **change}))  # type: ignore[arg-type]
    assert raised.value.code() == grpc.StatusCode.ALREADY_EXISTS
    info = error_info(raised.value)
    assert info.reason == "IDEMPOTENCY_KEY_REUSED"
    assert info.metadata["entry_id"] == first.entry.id


async def test_idempotency_keys_are_scoped_to_the_customer(
    stub: wallet_pb2_grpc.WalletServiceStub, customer_id: str
) -> None:
    first = await stub.CreateLedgerEntry(entry_request(customer_id, 100, idempotency_key="shared"))
    other = await stub.CreateLedgerEntry(entry_request(customer_id + "_b", 100, idempotency_key="shared"))
    assert not other.idempotent_replay
    assert other.entry.id != first.entry.id


async def test_an_empty_idempotency_key_means_no_deduplication(
    stub: wallet_pb2_grpc.WalletServiceStub, customer_id: str
) -> None:
    first = await stub.CreateLedgerEntry(entry_request(customer_id, 100))
    second = await stub.CreateLedgerEntry(entry_request(customer_id, 100))
    assert first.entry.id != second.entry.id
    assert second.wallet.balance == 200


async def test_a_credit_that_would_overflow_the_balance_is_refused(
    stub: wallet_pb2_grpc.WalletServiceStub, customer_id: str, database_url: str
) -> None:
    # 10^15 per entry: 9,223 credits fit below 2^63-1. All but the last are seeded straight
    # into the ledger: thousands of calls would only measure the machine, not the overflow.
    await asyncio.to_thread(seed_credits, database_url, customer_id, 9_222, "USD", 10**15)
    await stub.CreateLedgerEntry(entry_request(customer_id, 10**15))
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await stub.CreateLedgerEntry(entry_request(customer_id, 10**15))
    assert raised.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert error_info(raised.value).reason == "BALANCE_OVERFLOW"
    balances = await stub.GetBalances(wallet_pb2.GetBalancesRequest(customer_id=customer_id))
    assert {w.currency: w.balance for w in balances.wallets}["USD"] == 9_223 * 10**15


@pytest.mark.parametrize(
    "text",
    [
        'it\'s "quoted"',
        "'; DROP TABLE ledger_entries; --",
        "ünïcødé ₹ 🚀",
        "line\nbreak\ttab",
        "\\x00 escaped",
    ],
)
async def test_strings_are_stored_verbatim(
    stub: wallet_pb2_grpc.WalletServiceStub, customer_id: str, text: str
) -> None:
    response = await stub.CreateLedgerEntry(
        entry_request(customer_id, 1, reason=text, idempotency_key=text, metadata={text[:40]: text})
    )
    stored = [
        e
        async for m in stub.ListLedgerEntries(wallet_pb2.ListLedgerEntriesRequest(customer_id=customer_id))
        for e in m.entries
    ]
    assert stored == [response.entry]
    assert stored[0].reason == text and stored[0].idempotency_key == text
    assert dict(stored[0].metadata) == {text[:40]: text}
