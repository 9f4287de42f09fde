"""Reversals end to end: refunds and reclaims linked to their original, at most its amount, back where it came from."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import grpc
import psycopg
import pytest

from server.ledger.clock import Clock
from server.verify import verify
from tests.e2e.helpers import DEBIT, entry_request, error_info, field_violations
from tests.e2e.test_expiry import LEAD, expiring_credit, history, usd
from tests.waiting import move_past
from wallet.v1 import wallet_pb2, wallet_pb2_grpc

Stub = wallet_pb2_grpc.WalletServiceStub


def reverse(
    customer_id: str, entry_id: str, amount: int = 0, key: str = "", metadata: dict[str, str] | None = None
) -> wallet_pb2.ReverseLedgerEntryRequest:
    return wallet_pb2.ReverseLedgerEntryRequest(
        customer_id=customer_id, entry_id=entry_id, amount=amount, idempotency_key=key, metadata=metadata
    )


async def refused(call: object) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call  # type: ignore[misc]
    return caught.value


async def test_the_worked_example_a_refund_goes_back_to_the_pool_first_then_to_the_expiring_credit(
    stub: Stub, customer_id: str, clock: Clock
) -> None:
    at = clock.now() + LEAD
    a = await stub.CreateLedgerEntry(expiring_credit(customer_id, 100, at))
    await stub.CreateLedgerEntry(entry_request(customer_id, 50))
    d = await stub.CreateLedgerEntry(entry_request(customer_id, 120, DEBIT, metadata={"call": "c1"}))
    assert d.wallet.balance == 30

    first = await stub.ReverseLedgerEntry(reverse(customer_id, d.entry.id, 30, metadata={"ticket": "t9"}))
    assert first.entry.entry_type == wallet_pb2.ENTRY_TYPE_CREDIT
    assert (first.entry.amount, first.entry.reverses_entry_id) == (30, d.entry.id)
    assert first.entry.reason == f"Reversal of {d.entry.id}"
    assert dict(first.entry.metadata) == {"call": "c1", "ticket": "t9"}
    assert (first.original.id, first.original.reversed_amount) == (d.entry.id, 30)
    assert first.wallet.balance == 60

    # 20 went back to the pool (B) and 10 to A: at T only A's 10 expires.
    move_past(clock, at)
    wallet = await usd(stub, customer_id)
    assert wallet.balance == 50

    rest = await stub.ReverseLedgerEntry(reverse(customer_id, d.entry.id))
    assert rest.entry.amount == 90 and rest.original.reversed_amount == 120
    # The 90 went back to A, which had expired: it leaves again at once.
    assert rest.wallet.balance == 50
    entries = await history(stub, customer_id)
    expirations = [e for e in entries if e.entry_type == wallet_pb2.ENTRY_TYPE_EXPIRATION]
    assert [(e.amount, e.expired_entry_id) for e in expirations] == [(10, a.entry.id), (90, a.entry.id)]
    assert entries[-2].id == rest.entry.id and entries[-1] == expirations[-1]
    shown = {e.id: e for e in entries}
    assert shown[d.entry.id].reversed_amount == 120
    assert shown[rest.entry.id].reverses_entry_id == d.entry.id

    error = await refused(stub.ReverseLedgerEntry(reverse(customer_id, d.entry.id)))
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    info = error_info(error)
    assert (info.reason, info.metadata["reversible"]) == ("REVERSAL_EXCEEDS_ENTRY", "0")


async def test_a_reclaim_takes_only_the_credits_unspent_unheld_money(
    stub: Stub, customer_id: str, clock: Clock
) -> None:
    c = await stub.CreateLedgerEntry(expiring_credit(customer_id, 100, clock.now() + timedelta(days=30)))
    await stub.CreateLedgerEntry(entry_request(customer_id, 60, DEBIT))
    hold = await stub.CreateHold(
        wallet_pb2.CreateHoldRequest(customer_id=customer_id, currency="USD", amount=10, reason="job")
    )
    reclaim = await stub.ReverseLedgerEntry(reverse(customer_id, c.entry.id))
    assert reclaim.entry.entry_type == wallet_pb2.ENTRY_TYPE_DEBIT
    assert (reclaim.entry.amount, reclaim.original.reversed_amount, reclaim.wallet.balance) == (30, 30, 10)

    error = await refused(stub.ReverseLedgerEntry(reverse(customer_id, c.entry.id, 1)))
    assert error_info(error).reason == "REVERSAL_EXCEEDS_ENTRY"
    assert error_info(error).metadata["reversible"] == "0"

    await stub.ReleaseHold(wallet_pb2.ReleaseHoldRequest(customer_id=customer_id, hold_id=hold.hold.id))
    error = await refused(stub.ReverseLedgerEntry(reverse(customer_id, c.entry.id, 11)))
    assert error_info(error).metadata["reversible"] == "10"
    last = await stub.ReverseLedgerEntry(reverse(customer_id, c.entry.id, 10))
    assert (last.original.reversed_amount, last.wallet.balance) == (40, 0)


async def test_a_reclaim_of_a_credit_that_never_expires_takes_only_the_pools_unheld_money(
    stub: Stub, customer_id: str, clock: Clock
) -> None:
    c = await stub.CreateLedgerEntry(entry_request(customer_id, 100))
    await stub.CreateLedgerEntry(expiring_credit(customer_id, 50, clock.now() + timedelta(days=30)))
    await stub.CreateLedgerEntry(entry_request(customer_id, 70, DEBIT))  # 50 from the expiring credit, 20 pool
    error = await refused(stub.ReverseLedgerEntry(reverse(customer_id, c.entry.id, 81)))
    assert error_info(error).metadata["reversible"] == "80"
    reclaim = await stub.ReverseLedgerEntry(reverse(customer_id, c.entry.id))
    assert (reclaim.entry.amount, reclaim.wallet.balance) == (80, 0)


async def test_expirations_reversals_and_unknown_entries_are_refused_precisely(
    stub: Stub, customer_id: str, clock: Clock
) -> None:
    credit = await stub.CreateLedgerEntry(entry_request(customer_id, 100))
    refund_of_credit = await stub.ReverseLedgerEntry(reverse(customer_id, credit.entry.id, 10))
    error = await refused(stub.ReverseLedgerEntry(reverse(customer_id, refund_of_credit.entry.id)))
    assert (error.code(), error_info(error).reason) == (grpc.StatusCode.FAILED_PRECONDITION, "ENTRY_NOT_REVERSIBLE")

    at = clock.now() + LEAD
    await stub.CreateLedgerEntry(expiring_credit(customer_id, 5, at))
    move_past(clock, at)
    entries = await history(stub, customer_id)
    expiration = next(e for e in entries if e.entry_type == wallet_pb2.ENTRY_TYPE_EXPIRATION)
    error = await refused(stub.ReverseLedgerEntry(reverse(customer_id, expiration.id)))
    assert error_info(error).reason == "ENTRY_NOT_REVERSIBLE"

    error = await refused(stub.ReverseLedgerEntry(reverse(customer_id, "le_nope")))
    assert (error.code(), error_info(error).reason) == (grpc.StatusCode.NOT_FOUND, "ENTRY_NOT_FOUND")
    other = await stub.CreateLedgerEntry(entry_request(customer_id + "_other", 100))
    error = await refused(stub.ReverseLedgerEntry(reverse(customer_id, other.entry.id)))
    assert error_info(error).reason == "ENTRY_NOT_FOUND"

    for bad in ("", "x" * 65):
        error = await refused(stub.ReverseLedgerEntry(reverse(customer_id, bad)))
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT and field_violations(error) == ["entry_id"]
    error = await refused(stub.ReverseLedgerEntry(reverse(customer_id, credit.entry.id, -1)))
    assert field_violations(error) == ["amount"]


async def test_a_keyed_reversal_replays_and_its_key_is_shared_with_entries(stub: Stub, customer_id: str) -> None:
    await stub.CreateLedgerEntry(entry_request(customer_id, 100))
    d = await stub.CreateLedgerEntry(entry_request(customer_id, 40, DEBIT))
    first = await stub.ReverseLedgerEntry(reverse(customer_id, d.entry.id, 15, key="refund-1"))
    again = await stub.ReverseLedgerEntry(reverse(customer_id, d.entry.id, 15, key="refund-1"))
    assert again.idempotent_replay and again.entry == first.entry
    assert again.original.reversed_amount == 15 and again.wallet == first.wallet
    error = await refused(stub.ReverseLedgerEntry(reverse(customer_id, d.entry.id, 16, key="refund-1")))
    assert (error.code(), error_info(error).metadata["entry_id"]) == (grpc.StatusCode.ALREADY_EXISTS, first.entry.id)
    error = await refused(stub.CreateLedgerEntry(entry_request(customer_id, 15, idempotency_key="refund-1")))
    assert error_info(error).reason == "IDEMPOTENCY_KEY_REUSED"


async def test_two_concurrent_full_refunds_apply_once(stub: Stub, customer_id: str) -> None:
    await stub.CreateLedgerEntry(entry_request(customer_id, 100))
    d = await stub.CreateLedgerEntry(entry_request(customer_id, 100, DEBIT))
    outcomes = await asyncio.gather(
        *(stub.ReverseLedgerEntry(reverse(customer_id, d.entry.id, key=f"full-{n}")) for n in range(2)),
        return_exceptions=True,
    )
    applied = [o for o in outcomes if isinstance(o, wallet_pb2.ReverseLedgerEntryResponse)]
    errors = [o for o in outcomes if isinstance(o, grpc.aio.AioRpcError)]
    assert len(applied) == 1 and len(errors) == 1
    assert error_info(errors[0]).reason == "REVERSAL_EXCEEDS_ENTRY"
    assert (await usd(stub, customer_id)).balance == 100


async def test_twenty_concurrent_refunds_of_ten_on_a_debit_of_a_hundred_apply_exactly_ten(
    stub: Stub, customer_id: str
) -> None:
    await stub.CreateLedgerEntry(entry_request(customer_id, 100))
    d = await stub.CreateLedgerEntry(entry_request(customer_id, 100, DEBIT))
    outcomes = await asyncio.gather(
        *(stub.ReverseLedgerEntry(reverse(customer_id, d.entry.id, 10, key=f"part-{n}")) for n in range(20)),
        return_exceptions=True,
    )
    applied = [o for o in outcomes if isinstance(o, wallet_pb2.ReverseLedgerEntryResponse)]
    assert len(applied) == 10
    assert all(
        error_info(o).reason == "REVERSAL_EXCEEDS_ENTRY" for o in outcomes if isinstance(o, grpc.aio.AioRpcError)
    )
    assert (await usd(stub, customer_id)).balance == 100


async def test_a_captured_holds_debit_is_refunded_like_any_debit(stub: Stub, customer_id: str) -> None:
    await stub.CreateLedgerEntry(entry_request(customer_id, 100))
    hold = await stub.CreateHold(
        wallet_pb2.CreateHoldRequest(customer_id=customer_id, currency="USD", amount=50, reason="job")
    )
    captured = await stub.CaptureHold(
        wallet_pb2.CaptureHoldRequest(customer_id=customer_id, hold_id=hold.hold.id, amount=30)
    )
    refund = await stub.ReverseLedgerEntry(reverse(customer_id, captured.entry.id))
    assert (refund.entry.amount, refund.wallet.balance, refund.original.hold_id) == (30, 100, hold.hold.id)


async def test_summaries_count_refunds_and_reclaims_apart_and_the_balance_still_adds_up(
    stub: Stub, customer_id: str, clock: Clock
) -> None:
    start = clock.now() - timedelta(minutes=1)
    credit = await stub.CreateLedgerEntry(entry_request(customer_id, 1_000))
    debit = await stub.CreateLedgerEntry(entry_request(customer_id, 300, DEBIT, metadata={"model": "m1"}))
    await stub.ReverseLedgerEntry(reverse(customer_id, debit.entry.id, 100))
    await stub.ReverseLedgerEntry(reverse(customer_id, credit.entry.id, 50))
    request = wallet_pb2.SummarizeLedgerRequest(customer_id=customer_id, currency="USD", group_by_metadata_key="model")
    request.start_time.FromDatetime(start)
    request.end_time.FromDatetime(clock.now() + timedelta(minutes=1))
    summary = await stub.SummarizeLedger(request)
    [bucket] = summary.buckets
    assert (bucket.credited, bucket.debited, bucket.refunded, bucket.reclaimed) == (1_000, 300, 100, 50)
    assert (bucket.credit_count, bucket.debit_count, bucket.refund_count, bucket.reclaim_count) == (1, 1, 1, 1)
    assert (
        bucket.opening_balance + bucket.credited - bucket.debited - bucket.expired + bucket.refunded - bucket.reclaimed
        == bucket.closing_balance
        == 750
    )
    assert [(row.value, row.amount) for row in bucket.debits_by_metadata] == [("m1", 300)]


async def test_the_verifier_passes_after_refunds_and_reclaims_and_catches_a_broken_lot(
    stub: Stub, customer_id: str, clock: Clock, database_url: str
) -> None:
    at = clock.now() + LEAD
    a = await stub.CreateLedgerEntry(expiring_credit(customer_id, 100, at))
    await stub.CreateLedgerEntry(entry_request(customer_id, 50))
    d = await stub.CreateLedgerEntry(entry_request(customer_id, 120, DEBIT))
    await stub.ReverseLedgerEntry(reverse(customer_id, d.entry.id, 30))
    move_past(clock, at)
    await stub.ReverseLedgerEntry(reverse(customer_id, d.entry.id))
    c = await stub.CreateLedgerEntry(entry_request(customer_id, 40))
    await stub.ReverseLedgerEntry(reverse(customer_id, c.entry.id, 15))
    assert verify(database_url).problems == []
    with psycopg.connect(database_url) as conn:
        conn.execute(
            "UPDATE credit_lots SET remaining = remaining + 1, amount = amount + 1"
            " WHERE customer_id = %s AND credit_id = %s",
            (customer_id, a.entry.id),
        )
    try:
        assert any(a.entry.id in problem for problem in verify(database_url).problems)
    finally:
        with psycopg.connect(database_url) as conn:
            conn.execute(
                "UPDATE credit_lots SET remaining = remaining - 1, amount = amount - 1"
                " WHERE customer_id = %s AND credit_id = %s",
                (customer_id, a.entry.id),
            )
