"""Expiring credits and expiring holds end to end, with the background expirer switched off.

A credit or hold is made to expire a moment from now; the test moves the
service's clock past that instant (no waiting) and then reads: the read
itself must post what fell due.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import grpc
import pytest
from google.protobuf.duration_pb2 import Duration
from google.protobuf.timestamp_pb2 import Timestamp

from server.ledger.clock import Clock
from tests.e2e.helpers import DEBIT, entry_request, error_info, field_violations
from tests.waiting import move_past
from wallet.v1 import wallet_pb2, wallet_pb2_grpc

Stub = wallet_pb2_grpc.WalletServiceStub
# Far enough ahead that the writes before it land first even on a loaded machine (the clock moves past it at once).
LEAD = timedelta(seconds=10)


def expiring_credit(customer_id: str, amount: int, at: datetime) -> wallet_pb2.CreateLedgerEntryRequest:
    request = entry_request(customer_id, amount)
    request.expire_time.FromDatetime(at)
    return request


async def usd(stub: Stub, customer_id: str) -> wallet_pb2.Wallet:
    balances = await stub.GetBalances(wallet_pb2.GetBalancesRequest(customer_id=customer_id))
    wallet: wallet_pb2.Wallet = next(w for w in balances.wallets if w.currency == "USD")
    return wallet


async def history(stub: Stub, customer_id: str) -> list[wallet_pb2.LedgerEntry]:
    request = wallet_pb2.ListLedgerEntriesRequest(customer_id=customer_id)
    return [entry async for message in stub.ListLedgerEntries(request) for entry in message.entries]


async def test_the_worked_example_credit_100_hold_80_expire_20_capture_30_expire_50(
    stub: Stub, customer_id: str, clock: Clock
) -> None:
    t = clock.now() + LEAD
    credit = await stub.CreateLedgerEntry(expiring_credit(customer_id, 100, t))
    hold = await stub.CreateHold(
        wallet_pb2.CreateHoldRequest(customer_id=customer_id, currency="USD", amount=80, ttl=Duration(seconds=600))
    )
    move_past(clock, t)
    wallet = await usd(stub, customer_id)
    assert (wallet.balance, wallet.held_balance, wallet.available_balance) == (80, 80, 0)
    captured = await stub.CaptureHold(
        wallet_pb2.CaptureHoldRequest(customer_id=customer_id, hold_id=hold.hold.id, amount=30)
    )
    assert (captured.wallet.balance, captured.wallet.held_balance) == (0, 0)
    entries = await history(stub, customer_id)
    assert [(e.entry_type, e.amount) for e in entries] == [
        (wallet_pb2.ENTRY_TYPE_CREDIT, 100),
        (wallet_pb2.ENTRY_TYPE_EXPIRATION, 20),
        (wallet_pb2.ENTRY_TYPE_DEBIT, 30),
        (wallet_pb2.ENTRY_TYPE_EXPIRATION, 50),
    ]
    assert entries[1].expired_entry_id == credit.entry.id == entries[3].expired_entry_id
    assert entries[1].created_at.ToDatetime(tzinfo=UTC) >= t
    assert [e.after_balance for e in entries] == [100, 80, 50, 0]


async def test_a_read_right_after_expire_time_shows_the_expiration_already_posted(
    stub: Stub, customer_id: str, clock: Clock
) -> None:
    await stub.CreateLedgerEntry(entry_request(customer_id, 40))
    t = clock.now() + LEAD
    await stub.CreateLedgerEntry(expiring_credit(customer_id, 60, t))
    assert (await usd(stub, customer_id)).balance == 100
    move_past(clock, t)
    wallet = await usd(stub, customer_id)
    assert (wallet.balance, wallet.version) == (40, 3)
    entries = await history(stub, customer_id)
    assert entries[-1].entry_type == wallet_pb2.ENTRY_TYPE_EXPIRATION and entries[-1].amount == 60
    assert entries[-1].after_balance == wallet.balance


async def test_expired_money_cannot_be_spent_by_a_debit_made_right_after_expiry(
    stub: Stub, customer_id: str, clock: Clock
) -> None:
    t = clock.now() + LEAD
    await stub.CreateLedgerEntry(expiring_credit(customer_id, 60, t))
    move_past(clock, t)
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await stub.CreateLedgerEntry(entry_request(customer_id, 1, DEBIT))
    assert error_info(raised.value).reason == "INSUFFICIENT_WALLET_FUNDS"
    # The refused debit wrote nothing of its own, but the expiration that fell due before it is posted.
    assert [e.entry_type for e in await history(stub, customer_id)] == [
        wallet_pb2.ENTRY_TYPE_CREDIT,
        wallet_pb2.ENTRY_TYPE_EXPIRATION,
    ]


async def test_a_hold_past_its_expire_time_shows_expired_and_frees_its_money(
    stub: Stub, customer_id: str, clock: Clock
) -> None:
    await stub.CreateLedgerEntry(entry_request(customer_id, 100))
    hold = await stub.CreateHold(
        wallet_pb2.CreateHoldRequest(customer_id=customer_id, currency="USD", amount=70, ttl=Duration(seconds=2))
    )
    move_past(clock, hold.hold.expire_time.ToDatetime(tzinfo=UTC))
    fetched = await stub.GetHold(wallet_pb2.GetHoldRequest(customer_id=customer_id, hold_id=hold.hold.id))
    assert fetched.hold.status == wallet_pb2.HOLD_STATUS_EXPIRED
    assert fetched.hold.closed_at == fetched.hold.expire_time
    wallet = await usd(stub, customer_id)
    assert (wallet.held_balance, wallet.available_balance, wallet.version) == (0, 100, 3)
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await stub.CaptureHold(wallet_pb2.CaptureHoldRequest(customer_id=customer_id, hold_id=hold.hold.id))
    assert error_info(raised.value).reason == "HOLD_NOT_ACTIVE"
    assert error_info(raised.value).metadata["status"] == "HOLD_STATUS_EXPIRED"


async def test_a_credit_lapses_at_its_time_after_the_hold_that_held_it_all_expired_first(
    stub: Stub, customer_id: str, clock: Clock
) -> None:
    """A hold that expired before the credit it held gave the money back; at the credit's time it lapses.

    Both fall due in one settlement (nobody called in between): the credit
    was fully held when it began, yet it must expire too (found by the
    contract model, tests/model).
    """
    t = clock.now() + LEAD + timedelta(seconds=10)
    await stub.CreateLedgerEntry(expiring_credit(customer_id, 100, t))
    await stub.CreateLedgerEntry(entry_request(customer_id, 40, DEBIT))
    hold = await stub.CreateHold(
        wallet_pb2.CreateHoldRequest(customer_id=customer_id, currency="USD", amount=60, ttl=Duration(seconds=10))
    )
    assert hold.hold.expire_time.ToDatetime(tzinfo=UTC) < t
    move_past(clock, t)
    wallet = await usd(stub, customer_id)
    assert (wallet.balance, wallet.held_balance, wallet.available_balance) == (0, 0, 0)
    entries = await history(stub, customer_id)
    assert [(e.entry_type, e.amount) for e in entries] == [
        (wallet_pb2.ENTRY_TYPE_CREDIT, 100),
        (wallet_pb2.ENTRY_TYPE_DEBIT, 40),
        (wallet_pb2.ENTRY_TYPE_EXPIRATION, 60),
    ]
    assert entries[-1].created_at.ToDatetime(tzinfo=UTC) >= t


async def test_a_refund_to_a_lapsed_credit_replays_the_wallet_its_first_answer_showed(
    stub: Stub, customer_id: str, clock: Clock
) -> None:
    """What it gave back expired again at once, in the same call: its retries, at the same time (decided in one
    batch or not) and later, show the wallet after that too (found by the contract model, tests/model)."""
    t = clock.now() + LEAD
    await stub.CreateLedgerEntry(expiring_credit(customer_id, 100, t))
    await stub.CreateLedgerEntry(entry_request(customer_id, 50))
    debit = await stub.CreateLedgerEntry(entry_request(customer_id, 120, DEBIT))
    move_past(clock, t)
    request = wallet_pb2.ReverseLedgerEntryRequest(
        customer_id=customer_id, entry_id=debit.entry.id, idempotency_key="refund"
    )
    answers = [*await asyncio.gather(*(stub.ReverseLedgerEntry(request) for _ in range(3)))]
    answers.append(await stub.ReverseLedgerEntry(request))
    assert sorted(a.idempotent_replay for a in answers) == [False, True, True, True]
    # The 20 back to the pool stays, the 100 back to the lapsed credit leaves: the refund, then an expiration.
    assert {(a.entry.id, a.wallet.balance, a.wallet.version) for a in answers} == {(answers[0].entry.id, 50, 5)}


async def test_debits_spend_the_soonest_expiring_credit_first(stub: Stub, customer_id: str, clock: Clock) -> None:
    soon = clock.now() + LEAD
    await stub.CreateLedgerEntry(entry_request(customer_id, 100))
    await stub.CreateLedgerEntry(expiring_credit(customer_id, 50, soon + timedelta(days=1)))
    await stub.CreateLedgerEntry(expiring_credit(customer_id, 30, soon))
    await stub.CreateLedgerEntry(entry_request(customer_id, 40, DEBIT))
    move_past(clock, soon)
    # The 40 came from the credit of 30 (all of it) and 10 of the credit of 50: nothing lapses now.
    wallet = await usd(stub, customer_id)
    assert wallet.balance == 140
    assert [e.entry_type for e in await history(stub, customer_id)][-1] == wallet_pb2.ENTRY_TYPE_DEBIT


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"entry_type": DEBIT}, "only credits"),
        ({"expire_time": Timestamp(seconds=1)}, "future"),
        ({"expire_time": Timestamp(seconds=int((datetime.now(UTC) + timedelta(days=3_651)).timestamp()))}, "3650"),
    ],
)
async def test_an_expire_time_is_refused_on_a_debit_in_the_past_or_too_far_ahead(
    stub: Stub, customer_id: str, fields: dict[str, object], reason: str
) -> None:
    request = expiring_credit(customer_id, 10, datetime.now(UTC) + timedelta(days=1))
    for name, value in fields.items():
        if name == "expire_time":
            request.expire_time.CopyFrom(value)  # type: ignore[arg-type]
        else:
            setattr(request, name, value)
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await stub.CreateLedgerEntry(request)
    assert field_violations(raised.value) == ["expire_time"]
    assert reason in (raised.value.details() or "")
