"""GetBalances with as_of: every wallet as it stood at an instant, holds and versions included."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import grpc
import psycopg
import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from server.ledger.clock import Clock
from tests.consistency import assert_ledger_consistent
from tests.e2e.helpers import DEBIT, entry_request, field_violations
from wallet.v1 import wallet_pb2, wallet_pb2_grpc

MICROSECOND = timedelta(microseconds=1)


def at(moment: datetime) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(moment)
    return stamp


async def usd_as_of(stub: wallet_pb2_grpc.WalletServiceStub, customer_id: str, moment: datetime) -> wallet_pb2.Wallet:
    response = await stub.GetBalances(wallet_pb2.GetBalancesRequest(customer_id=customer_id, as_of=at(moment)))
    usd: wallet_pb2.Wallet = next(w for w in response.wallets if w.currency == "USD")
    return usd


def shown(wallet: wallet_pb2.Wallet) -> tuple[int, int, int, int]:
    return wallet.balance, wallet.held_balance, wallet.available_balance, wallet.version


async def test_as_of_the_exact_time_of_an_entry_excludes_it_and_one_microsecond_later_includes_it(
    stub: wallet_pb2_grpc.WalletServiceStub, customer_id: str
) -> None:
    first = await stub.CreateLedgerEntry(entry_request(customer_id, 1_000))
    second = await stub.CreateLedgerEntry(entry_request(customer_id, 300, DEBIT))
    t1 = first.entry.created_at.ToDatetime(tzinfo=UTC)
    t2 = second.entry.created_at.ToDatetime(tzinfo=UTC)

    before = await usd_as_of(stub, customer_id, t1)
    assert shown(before) == (0, 0, 0, 0) and not before.HasField("created_at")
    assert shown(await usd_as_of(stub, customer_id, t1 + MICROSECOND)) == (1_000, 0, 1_000, 1)
    assert shown(await usd_as_of(stub, customer_id, t2)) == (1_000, 0, 1_000, 1)
    after = await usd_as_of(stub, customer_id, t2 + MICROSECOND)
    assert shown(after) == (700, 0, 700, 2)
    assert after.updated_at == second.entry.created_at and after.created_at == first.entry.created_at


async def test_as_of_shows_held_and_available_balance_and_version_as_they_stood_through_a_holds_life(
    stub: wallet_pb2_grpc.WalletServiceStub, customer_id: str
) -> None:
    await stub.CreateLedgerEntry(entry_request(customer_id, 1_000))  # version 1
    released = await stub.CreateHold(wallet_pb2.CreateHoldRequest(customer_id=customer_id, currency="USD", amount=300))
    release = await stub.ReleaseHold(wallet_pb2.ReleaseHoldRequest(customer_id=customer_id, hold_id=released.hold.id))
    kept = await stub.CreateHold(wallet_pb2.CreateHoldRequest(customer_id=customer_id, currency="USD", amount=200))
    capture = await stub.CaptureHold(
        wallet_pb2.CaptureHoldRequest(customer_id=customer_id, hold_id=kept.hold.id, amount=150)
    )
    moments = [
        (released.hold.created_at, (1_000, 300, 700, 2)),
        (release.hold.closed_at, (1_000, 0, 1_000, 3)),
        (kept.hold.created_at, (1_000, 200, 800, 4)),
        (capture.hold.closed_at, (850, 0, 850, 5)),
    ]
    for stamp, expected in moments:
        moment = stamp.ToDatetime(tzinfo=UTC)
        assert shown(await usd_as_of(stub, customer_id, moment + MICROSECOND)) == expected, moment
    now = await stub.GetBalances(wallet_pb2.GetBalancesRequest(customer_id=customer_id))
    assert shown(next(w for w in now.wallets if w.currency == "USD")) == (850, 0, 850, 5)
    # The instant the capture happened, it had not happened yet: the hold still reserved its 200.
    assert shown(await usd_as_of(stub, customer_id, capture.hold.closed_at.ToDatetime(tzinfo=UTC))) == (
        1_000,
        200,
        800,
        4,
    )


async def test_as_of_shows_every_supported_currency_and_zero_for_a_customer_not_yet_seen(
    stub: wallet_pb2_grpc.WalletServiceStub, customer_id: str
) -> None:
    response = await stub.GetBalances(
        wallet_pb2.GetBalancesRequest(customer_id=customer_id, as_of=at(datetime(2020, 1, 1, tzinfo=UTC)))
    )
    assert [(w.currency, w.balance, w.version) for w in response.wallets] == [("INR", 0, 0), ("USD", 0, 0)]


@pytest.mark.parametrize("as_of", [timedelta(hours=1), timedelta(days=3650)])
async def test_as_of_in_the_future_is_refused_naming_as_of(
    stub: wallet_pb2_grpc.WalletServiceStub, customer_id: str, as_of: timedelta, clock: Clock
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await stub.GetBalances(wallet_pb2.GetBalancesRequest(customer_id=customer_id, as_of=at(clock.now() + as_of)))
    assert refused.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert field_violations(refused.value) == ["as_of"]


async def test_an_as_of_outside_the_timestamp_range_is_refused_naming_as_of(
    stub: wallet_pb2_grpc.WalletServiceStub, customer_id: str
) -> None:
    request = wallet_pb2.GetBalancesRequest(customer_id=customer_id)
    request.as_of.seconds = -(10**12)
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await stub.GetBalances(request)
    assert field_violations(refused.value) == ["as_of"]


async def test_a_credit_that_lapsed_unnoticed_shows_expired_as_of_any_instant_after_its_expire_time(
    stub: wallet_pb2_grpc.WalletServiceStub, customer_id: str, database_url: str
) -> None:
    # An expiring credit whose expire_time passed while nobody read or wrote the wallet: nothing posted yet.
    credited_at, lapsed_at = datetime(2025, 6, 1, tzinfo=UTC), datetime(2025, 7, 1, tzinfo=UTC)
    with psycopg.connect(database_url) as conn:
        conn.execute(
            "INSERT INTO ledger_heads (customer_id, last_seq, last_entry_at) VALUES (%s, 1, %s)",
            (customer_id, credited_at),
        )
        conn.execute(
            "INSERT INTO wallets (customer_id, currency, balance, created_at, updated_at, version)"
            " VALUES (%s, 'USD', 500, %s, %s, 1)",
            (customer_id, credited_at, credited_at),
        )
        conn.execute(
            "INSERT INTO ledger_entries (id, customer_id, seq, currency, entry_type, amount, before_balance,"
            " after_balance, created_at, expire_time, wallet_version)"
            " VALUES ('le_promo', %s, 1, 'USD', 'credit', 500, 0, 500, %s, %s, 1)",
            (customer_id, credited_at, lapsed_at),
        )
        conn.execute(
            "INSERT INTO credit_lots (customer_id, credit_seq, currency, credit_id, expire_time, amount, remaining,"
            " held) VALUES (%s, 1, 'USD', 'le_promo', %s, 500, 500, 0)",
            (customer_id, lapsed_at),
        )
    # The read posts the expiration first, dated when the credit lapsed, so the past shows it at its time.
    assert shown(await usd_as_of(stub, customer_id, lapsed_at)) == (500, 0, 500, 1)
    assert shown(await usd_as_of(stub, customer_id, lapsed_at + MICROSECOND)) == (0, 0, 0, 2)
    assert_ledger_consistent(database_url)
