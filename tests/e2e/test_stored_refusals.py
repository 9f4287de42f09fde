"""A refusal stays refused: a keyed request refused for a reason of its own answers its retries the same way."""

from __future__ import annotations

import asyncio

import grpc
import pytest
from grpc_status import rpc_status

from tests.e2e.helpers import DEBIT, entry_request, error_info
from tests.e2e.test_expiry import history
from wallet.v1 import wallet_pb2, wallet_pb2_grpc

Stub = wallet_pb2_grpc.WalletServiceStub


async def refused(call: object) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call  # type: ignore[misc]
    return caught.value


async def test_a_refused_debit_retried_after_a_top_up_is_refused_again_and_writes_nothing(
    stub: Stub, customer_id: str
) -> None:
    first = await refused(stub.CreateLedgerEntry(entry_request(customer_id, 500, DEBIT, idempotency_key="charge-1")))
    await stub.CreateLedgerEntry(entry_request(customer_id, 1_000))
    again = await refused(stub.CreateLedgerEntry(entry_request(customer_id, 500, DEBIT, idempotency_key="charge-1")))
    assert again.code() == first.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert again.details() == first.details()
    original, replayed = error_info(first), error_info(again)
    assert replayed.reason == original.reason == "INSUFFICIENT_WALLET_FUNDS"
    assert dict(replayed.metadata) == {**original.metadata, "replayed": "true"}
    assert "replayed" not in original.metadata
    assert len(await history(stub, customer_id)) == 1

    other = await refused(stub.CreateLedgerEntry(entry_request(customer_id, 400, DEBIT, idempotency_key="charge-1")))
    assert other.code() == grpc.StatusCode.ALREADY_EXISTS
    info = error_info(other)
    assert (info.reason, info.metadata["refused_reason"]) == ("IDEMPOTENCY_KEY_REUSED", "INSUFFICIENT_WALLET_FUNDS")
    # A key refused once cannot later be used by an applied request, of any kind.
    credit = await refused(stub.CreateLedgerEntry(entry_request(customer_id, 500, idempotency_key="charge-1")))
    assert credit.code() == grpc.StatusCode.ALREADY_EXISTS
    hold = await refused(
        stub.CreateHold(
            wallet_pb2.CreateHoldRequest(customer_id=customer_id, currency="USD", amount=5, idempotency_key="charge-1")
        )
    )
    assert error_info(hold).metadata["refused_reason"] == "INSUFFICIENT_WALLET_FUNDS"


async def test_a_replayed_refusal_emits_no_event(stub: Stub, customer_id: str) -> None:
    watch = stub.WatchEvents(wallet_pb2.WatchEventsRequest(customer_id=customer_id))
    live = await watch.read()
    await refused(stub.CreateLedgerEntry(entry_request(customer_id, 5, DEBIT, idempotency_key="k")))
    await refused(stub.CreateLedgerEntry(entry_request(customer_id, 5, DEBIT, idempotency_key="k")))
    marker = await stub.CreateLedgerEntry(entry_request(customer_id, 7))
    update = await watch.read()
    while not update.events:
        update = await watch.read()
    watch.cancel()
    assert live.cursor
    assert [event.entry.id for event in update.events] == [marker.entry.id]


async def test_a_refused_hold_and_a_refused_reversal_are_replayed_too(stub: Stub, customer_id: str) -> None:
    hold = wallet_pb2.CreateHoldRequest(customer_id=customer_id, currency="USD", amount=50, idempotency_key="h1")
    first = await refused(stub.CreateHold(hold))
    await stub.CreateLedgerEntry(entry_request(customer_id, 100))
    again = await refused(stub.CreateHold(hold))
    assert error_info(again).metadata["replayed"] == "true" and again.details() == first.details()

    reversal = wallet_pb2.ReverseLedgerEntryRequest(
        customer_id=customer_id, entry_id="le_missing", idempotency_key="r1"
    )
    missing = await refused(stub.ReverseLedgerEntry(reversal))
    assert missing.code() == grpc.StatusCode.NOT_FOUND
    again = await refused(stub.ReverseLedgerEntry(reversal))
    assert (again.code(), error_info(again).metadata["replayed"]) == (grpc.StatusCode.NOT_FOUND, "true")


async def test_malformed_and_unkeyed_requests_are_decided_afresh(stub: Stub, customer_id: str) -> None:
    await refused(stub.CreateLedgerEntry(entry_request(customer_id, 500, DEBIT)))
    bad = await refused(stub.CreateLedgerEntry(entry_request(customer_id, 0, DEBIT, idempotency_key="fix-me")))
    assert bad.code() == grpc.StatusCode.INVALID_ARGUMENT
    await stub.CreateLedgerEntry(entry_request(customer_id, 1_000))
    applied = await stub.CreateLedgerEntry(entry_request(customer_id, 500, DEBIT))
    assert applied.wallet.balance == 500
    fixed = await stub.CreateLedgerEntry(entry_request(customer_id, 5, DEBIT, idempotency_key="fix-me"))
    assert not fixed.idempotent_replay


async def test_an_atomic_batch_stores_the_refusal_of_the_item_that_failed_it_and_fails_the_same_way_again(
    stub: Stub, customer_id: str
) -> None:
    batch = wallet_pb2.BatchCreateLedgerEntriesRequest(
        atomic=True,
        requests=[
            entry_request(customer_id, 100, idempotency_key="b-0"),
            entry_request(customer_id, 500, DEBIT, idempotency_key="b-1"),
        ],
    )
    first = await refused(stub.BatchCreateLedgerEntries(batch))
    await stub.CreateLedgerEntry(entry_request(customer_id, 1_000))
    again = await refused(stub.BatchCreateLedgerEntries(batch))
    assert error_info(again).metadata["index"] == error_info(first).metadata["index"] == "1"
    assert error_info(again).metadata["replayed"] == "true"
    # The other item's key stayed unused: alone, it applies.
    applied = await stub.CreateLedgerEntry(entry_request(customer_id, 100, idempotency_key="b-0"))
    assert not applied.idempotent_replay


async def test_a_non_atomic_batch_stores_each_refused_keyed_item(stub: Stub, customer_id: str) -> None:
    batch = wallet_pb2.BatchCreateLedgerEntriesRequest(
        requests=[
            entry_request(customer_id, 500, DEBIT, idempotency_key="n-0"),
            entry_request(customer_id, 100, idempotency_key="n-1"),
            entry_request(customer_id, 500, DEBIT, idempotency_key="n-0"),
        ]
    )
    first = await stub.BatchCreateLedgerEntries(batch)
    assert [r.WhichOneof("outcome") for r in first.results] == ["error", "response", "error"]
    assert first.results[2].error.metadata["replayed"] == "true"
    await stub.CreateLedgerEntry(entry_request(customer_id, 1_000))
    again = await stub.BatchCreateLedgerEntries(batch)
    assert again.results[0].error.metadata["replayed"] == "true"
    assert again.results[1].response.idempotent_replay


async def test_twenty_identical_keyed_debits_racing_a_credit_all_get_one_outcome(stub: Stub, customer_id: str) -> None:
    debit = entry_request(customer_id, 300, DEBIT, idempotency_key="race")
    calls = [stub.CreateLedgerEntry(debit) for _ in range(10)]
    calls.append(stub.CreateLedgerEntry(entry_request(customer_id, 1_000)))
    calls.extend(stub.CreateLedgerEntry(debit) for _ in range(10))
    outcomes = await asyncio.gather(*calls, return_exceptions=True)
    racing = outcomes[:10] + outcomes[11:]
    applied = [o for o in racing if isinstance(o, wallet_pb2.CreateLedgerEntryResponse)]
    errors = [o for o in racing if isinstance(o, grpc.aio.AioRpcError)]
    assert len(applied) + len(errors) == 20
    if applied:
        assert not errors and len({a.entry.id for a in applied}) == 1
    else:
        assert {error_info(e).reason for e in errors} == {"INSUFFICIENT_WALLET_FUNDS"}
        assert {rpc_status.from_call(e).message for e in errors} == {errors[0].details()}
