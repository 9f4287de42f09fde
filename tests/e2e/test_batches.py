"""BatchCreateLedgerEntries end to end: per-request outcomes, replays, order, all or nothing, bad input."""

from __future__ import annotations

import asyncio

import grpc
import psycopg
import pytest

from tests.consistency import assert_ledger_consistent
from tests.e2e.helpers import DEBIT, entry_request, error_info, field_violations
from wallet.v1 import wallet_pb2, wallet_pb2_grpc

Stub = wallet_pb2_grpc.WalletServiceStub


def batch(
    *requests: wallet_pb2.CreateLedgerEntryRequest, atomic: bool = False
) -> wallet_pb2.BatchCreateLedgerEntriesRequest:
    return wallet_pb2.BatchCreateLedgerEntriesRequest(requests=list(requests), atomic=atomic)


async def usd_balance(stub: Stub, customer_id: str) -> int:
    response = await stub.GetBalances(wallet_pb2.GetBalancesRequest(customer_id=customer_id))
    return int({w.currency: w.balance for w in response.wallets}["USD"])


def outcomes(response: wallet_pb2.BatchCreateLedgerEntriesResponse) -> list[str]:
    """Each result as "applied", "replayed" or its error reason."""
    named = []
    for result in response.results:
        if result.HasField("error"):
            named.append(result.error.reason)
        else:
            named.append("replayed" if result.response.idempotent_replay else "applied")
    return named


def count_rows(database_url: str, table: str, customer_id: str) -> int:
    with psycopg.connect(database_url) as conn:
        row = conn.execute(f"SELECT count(*) FROM {table} WHERE customer_id = %s", (customer_id,)).fetchone()
    assert row is not None
    return int(row[0])


async def test_a_non_atomic_batch_returns_each_requests_own_outcome_and_malformed_ones_stand_alone(
    stub: Stub, customer_id: str
) -> None:
    response = await stub.BatchCreateLedgerEntries(
        batch(
            entry_request(customer_id, 100),
            entry_request(customer_id, 0),
            entry_request(customer_id, 500, DEBIT),
            entry_request(customer_id, 30, DEBIT, currency="INR"),
            entry_request(customer_id, 40, DEBIT),
        )
    )
    assert outcomes(response) == [
        "applied",
        "INVALID_ARGUMENT",
        "INSUFFICIENT_WALLET_FUNDS",
        "INSUFFICIENT_WALLET_FUNDS",
        "applied",
    ]
    malformed, refused = response.results[1].error, response.results[2].error
    assert (malformed.code, malformed.metadata["field"]) == (grpc.StatusCode.INVALID_ARGUMENT.value[0], "amount")
    assert refused.code == grpc.StatusCode.FAILED_PRECONDITION.value[0]
    assert dict(refused.metadata)["balance"] == "100" and "Insufficient balance" in refused.message
    assert response.results[4].response.entry.after_balance == 60
    assert response.results[4].response.wallet.balance == 60
    assert await usd_balance(stub, customer_id) == 60


async def test_requests_apply_in_the_order_given_so_two_debits_of_one_wallet_see_each_other(
    stub: Stub, customer_id: str
) -> None:
    response = await stub.BatchCreateLedgerEntries(
        batch(
            entry_request(customer_id, 100),
            entry_request(customer_id, 60, DEBIT),
            entry_request(customer_id, 60, DEBIT),
        )
    )
    assert outcomes(response) == ["applied", "applied", "INSUFFICIENT_WALLET_FUNDS"]
    assert dict(response.results[2].error.metadata)["balance"] == "40"
    history = await stub.ListLedgerEntries(wallet_pb2.ListLedgerEntriesRequest(customer_id=customer_id)).read()
    assert [e.id for e in history.entries] == [r.response.entry.id for r in response.results[:2]]


async def test_keys_replay_within_a_batch_across_batches_and_against_single_calls(stub: Stub, customer_id: str) -> None:
    first = await stub.BatchCreateLedgerEntries(
        batch(
            entry_request(customer_id, 10, idempotency_key="a"),
            entry_request(customer_id, 10, idempotency_key="a"),
            entry_request(customer_id, 11, idempotency_key="a"),
            entry_request(customer_id, 20, idempotency_key="b"),
        )
    )
    assert outcomes(first) == ["applied", "replayed", "IDEMPOTENCY_KEY_REUSED", "applied"]
    assert first.results[1].response.entry.id == first.results[0].response.entry.id
    assert dict(first.results[2].error.metadata)["entry_id"] == first.results[0].response.entry.id

    again = await stub.BatchCreateLedgerEntries(
        batch(entry_request(customer_id, 20, idempotency_key="b"), entry_request(customer_id, 10, idempotency_key="a"))
    )
    assert outcomes(again) == ["replayed", "replayed"]
    assert again.results[0].response.entry.id == first.results[3].response.entry.id
    single = await stub.CreateLedgerEntry(entry_request(customer_id, 20, idempotency_key="b"))
    assert single.idempotent_replay and single.entry.id == first.results[3].response.entry.id
    assert await usd_balance(stub, customer_id) == 30


async def test_an_atomic_batch_applies_all_its_requests_across_customers(stub: Stub, customer_id: str) -> None:
    other = f"{customer_id}_b"
    response = await stub.BatchCreateLedgerEntries(
        batch(
            entry_request(customer_id, 70), entry_request(other, 5), entry_request(customer_id, 70, DEBIT), atomic=True
        )
    )
    assert outcomes(response) == ["applied", "applied", "applied"]
    assert (await usd_balance(stub, customer_id), await usd_balance(stub, other)) == (0, 5)


async def test_a_refused_atomic_batch_writes_nothing_and_fails_with_the_first_refusal_and_its_index(
    stub: Stub, customer_id: str, database_url: str
) -> None:
    await stub.CreateLedgerEntry(entry_request(customer_id, 50))
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await stub.BatchCreateLedgerEntries(
            batch(
                entry_request(customer_id, 30, DEBIT, idempotency_key="d1"),
                entry_request(f"{customer_id}_b", 5),
                entry_request(customer_id, 30, DEBIT),
                entry_request(customer_id, 10_000, DEBIT),
                atomic=True,
            )
        )
    assert raised.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    info = error_info(raised.value)
    assert info.reason == "INSUFFICIENT_WALLET_FUNDS"
    assert (info.metadata["index"], info.metadata["balance"]) == ("2", "20")
    assert await usd_balance(stub, customer_id) == 50
    assert count_rows(database_url, "ledger_entries", f"{customer_id}_b") == 0
    assert count_rows(database_url, "wallet_events", f"{customer_id}_b") == 0
    # The key of the discarded debit was not used: the same debit applies now.
    applied = await stub.CreateLedgerEntry(entry_request(customer_id, 30, DEBIT, idempotency_key="d1"))
    assert not applied.idempotent_replay


async def test_an_applied_batch_writes_the_events_of_each_entry(
    stub: Stub, customer_id: str, database_url: str
) -> None:
    await stub.BatchCreateLedgerEntries(batch(*(entry_request(customer_id, 1) for _ in range(3)), atomic=True))
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT event_type FROM wallet_events WHERE customer_id = %s ORDER BY seq", (customer_id,)
        ).fetchall()
    assert [r[0] for r in rows].count("entry_created") == 3


async def test_atomic_batches_stay_all_or_nothing_under_concurrent_single_writes_to_the_same_wallets(
    stub: Stub, customer_id: str, database_url: str
) -> None:
    """Transfers A→B and B→A as atomic batches race single debits of A and B; none deadlocks or half-applies."""
    a, b = customer_id, f"{customer_id}_b"
    await stub.BatchCreateLedgerEntries(batch(entry_request(a, 300), entry_request(b, 300)))

    def transfer(source: str, target: str, key: str) -> wallet_pb2.BatchCreateLedgerEntriesRequest:
        return batch(
            entry_request(source, 40, DEBIT, idempotency_key=f"{key}-out"),
            entry_request(target, 40, idempotency_key=f"{key}-in"),
            atomic=True,
        )

    calls = []
    for i in range(12):
        calls.append(stub.BatchCreateLedgerEntries(transfer(a, b, f"ab{i}") if i % 2 else transfer(b, a, f"ba{i}")))
        calls.append(stub.CreateLedgerEntry(entry_request(a if i % 2 else b, 25, DEBIT)))
    results = await asyncio.gather(*calls, return_exceptions=True)
    for result in results:
        if isinstance(result, grpc.aio.AioRpcError):
            assert result.code() == grpc.StatusCode.FAILED_PRECONDITION, result
    with psycopg.connect(database_url) as conn:
        keys = {
            row[0]
            for row in conn.execute(
                "SELECT idempotency_key FROM ledger_entries WHERE customer_id IN (%s, %s) AND idempotency_key <> ''",
                (a, b),
            )
        }
    transfers = {key.rsplit("-", 1)[0] for key in keys}
    assert all({f"{t}-out", f"{t}-in"} <= keys for t in transfers), keys
    applied_batches = [r for r in results if isinstance(r, wallet_pb2.BatchCreateLedgerEntriesResponse)]
    assert applied_batches and len(applied_batches) == len(transfers)
    assert await usd_balance(stub, a) >= 0 and await usd_balance(stub, b) >= 0
    assert_ledger_consistent(database_url)


@pytest.mark.parametrize("size", [0, 1001])
async def test_an_empty_or_oversized_batch_is_invalid_and_names_requests(
    stub: Stub, customer_id: str, size: int
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await stub.BatchCreateLedgerEntries(batch(*(entry_request(customer_id, 1) for _ in range(size))))
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field_violations(raised.value) == ["requests"]


async def test_a_malformed_request_fails_an_atomic_batch_naming_its_position_and_field(
    stub: Stub, customer_id: str
) -> None:
    requests = [entry_request(customer_id, 1) for _ in range(5)]
    requests[3] = entry_request(customer_id, -4)
    requests[4] = entry_request(customer_id, 1, currency="XXX")
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await stub.BatchCreateLedgerEntries(batch(*requests, atomic=True))
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field_violations(raised.value) == ["requests[3].amount", "requests[4].currency"]
    assert await usd_balance(stub, customer_id) == 0


async def test_a_batch_over_many_customers_keeps_each_entrys_outcome_in_its_place_and_each_customers_order(
    stub: Stub, customer_id: str
) -> None:
    # Ten customers spread over the server's batch shards; each customer's entries depend on the
    # ones before them (the debit needs the credit, the repeated key replays), interleaved with the others'.
    customers = [f"{customer_id}_{n}" for n in range(10)]
    requests = []
    for step in range(3):
        for customer in customers:
            if step == 0:
                requests.append(entry_request(customer, 100, idempotency_key="credit"))
            elif step == 1:
                requests.append(entry_request(customer, 60, DEBIT, idempotency_key="debit"))
            else:
                requests.append(entry_request(customer, 100, idempotency_key="credit"))
    response = await stub.BatchCreateLedgerEntries(batch(*requests))
    assert outcomes(response) == ["applied"] * 20 + ["replayed"] * 10
    for index, result in enumerate(response.results):
        assert result.response.entry.customer_id == customers[index % 10]
        # A replay answers as the original did: the wallet as that credit left it.
        assert result.response.wallet.balance == (40 if 10 <= index < 20 else 100)
