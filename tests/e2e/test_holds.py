"""Holds end to end: reserve, capture, release, read and page, against the real server and PostgreSQL."""

from __future__ import annotations

import asyncio

import grpc
import pytest
from google.protobuf.duration_pb2 import Duration

from tests.e2e.helpers import DEBIT, entry_request, error_info, field_violations
from wallet.v1 import wallet_pb2, wallet_pb2_grpc

Stub = wallet_pb2_grpc.WalletServiceStub


def hold_request(customer_id: str, amount: int, key: str = "", ttl_s: int = 600) -> wallet_pb2.CreateHoldRequest:
    return wallet_pb2.CreateHoldRequest(
        customer_id=customer_id,
        currency="USD",
        amount=amount,
        reason="render job",
        idempotency_key=key,
        metadata={"job": "j1"},
        ttl=Duration(seconds=ttl_s),
    )


async def usd(stub: Stub, customer_id: str) -> wallet_pb2.Wallet:
    balances = await stub.GetBalances(wallet_pb2.GetBalancesRequest(customer_id=customer_id))
    wallet: wallet_pb2.Wallet = next(w for w in balances.wallets if w.currency == "USD")
    return wallet


async def test_a_hold_reserves_money_a_capture_spends_part_and_returns_the_rest(stub: Stub, customer_id: str) -> None:
    await stub.CreateLedgerEntry(entry_request(customer_id, 1_000))
    created = await stub.CreateHold(hold_request(customer_id, 400))
    assert created.hold.status == wallet_pb2.HOLD_STATUS_ACTIVE
    assert (created.wallet.balance, created.wallet.held_balance, created.wallet.available_balance) == (1_000, 400, 600)
    assert created.wallet.version == 2
    captured = await stub.CaptureHold(
        wallet_pb2.CaptureHoldRequest(customer_id=customer_id, hold_id=created.hold.id, amount=150, metadata={"k": "v"})
    )
    assert captured.hold.status == wallet_pb2.HOLD_STATUS_CAPTURED
    assert (captured.hold.captured_amount, captured.hold.capture_entry_id) == (150, captured.entry.id)
    assert captured.entry.entry_type == DEBIT and captured.entry.hold_id == created.hold.id
    assert captured.entry.reason == "render job" and dict(captured.entry.metadata) == {"job": "j1", "k": "v"}
    assert (captured.wallet.balance, captured.wallet.held_balance, captured.wallet.version) == (850, 0, 3)
    again = await stub.CaptureHold(
        wallet_pb2.CaptureHoldRequest(customer_id=customer_id, hold_id=created.hold.id, amount=150)
    )
    assert again.idempotent_replay and again.entry.id == captured.entry.id
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await stub.CaptureHold(wallet_pb2.CaptureHoldRequest(customer_id=customer_id, hold_id=created.hold.id))
    assert raised.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert error_info(raised.value).reason == "HOLD_NOT_ACTIVE"
    assert error_info(raised.value).metadata["status"] == "HOLD_STATUS_CAPTURED"


async def test_a_release_returns_the_hold_and_a_second_release_replays(stub: Stub, customer_id: str) -> None:
    await stub.CreateLedgerEntry(entry_request(customer_id, 100))
    created = await stub.CreateHold(hold_request(customer_id, 100))
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await stub.CreateLedgerEntry(entry_request(customer_id, 1, DEBIT))
    assert error_info(raised.value).reason == "INSUFFICIENT_WALLET_FUNDS"
    release = wallet_pb2.ReleaseHoldRequest(customer_id=customer_id, hold_id=created.hold.id)
    released = await stub.ReleaseHold(release)
    assert released.hold.status == wallet_pb2.HOLD_STATUS_RELEASED and released.hold.HasField("closed_at")
    assert (released.wallet.available_balance, released.wallet.version) == (100, 3)
    assert (await stub.ReleaseHold(release)).idempotent_replay
    fetched = await stub.GetHold(wallet_pb2.GetHoldRequest(customer_id=customer_id, hold_id=created.hold.id))
    assert fetched.hold == released.hold


async def test_six_concurrent_holds_of_1000_on_5000_exactly_five_succeed(stub: Stub, customer_id: str) -> None:
    await stub.CreateLedgerEntry(entry_request(customer_id, 5_000))
    results = await asyncio.gather(
        *(stub.CreateHold(hold_request(customer_id, 1_000)) for _ in range(6)), return_exceptions=True
    )
    refused = [r for r in results if isinstance(r, grpc.aio.AioRpcError)]
    assert len(refused) == 1 and error_info(refused[0]).reason == "INSUFFICIENT_WALLET_FUNDS"
    wallet = await usd(stub, customer_id)
    assert (wallet.held_balance, wallet.available_balance, wallet.version) == (5_000, 0, 6)


async def test_a_hold_key_replays_with_the_same_fields_and_is_refused_with_others(stub: Stub, customer_id: str) -> None:
    await stub.CreateLedgerEntry(entry_request(customer_id, 100, idempotency_key="credit-1"))
    first = await stub.CreateHold(hold_request(customer_id, 10, key="hold-1"))
    replay = await stub.CreateHold(hold_request(customer_id, 10, key="hold-1"))
    assert replay.idempotent_replay and replay.hold.id == first.hold.id
    for request, original in [
        (hold_request(customer_id, 10, key="hold-1", ttl_s=60), ("hold_id", first.hold.id)),
        (hold_request(customer_id, 10, key="credit-1"), ("entry_id", None)),
    ]:
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await stub.CreateHold(request)
        assert raised.value.code() == grpc.StatusCode.ALREADY_EXISTS
        name, value = original
        assert name in error_info(raised.value).metadata
        assert value is None or error_info(raised.value).metadata[name] == value


async def test_unknown_and_malformed_hold_ids_and_bad_amounts_are_refused_precisely(
    stub: Stub, customer_id: str
) -> None:
    await stub.CreateLedgerEntry(entry_request(customer_id, 100))
    created = await stub.CreateHold(hold_request(customer_id, 50))
    cases = [
        (wallet_pb2.CaptureHoldRequest(customer_id=customer_id, hold_id="hd_nope"), grpc.StatusCode.NOT_FOUND, None),
        (wallet_pb2.CaptureHoldRequest(customer_id=customer_id, hold_id="hd_\x00"), grpc.StatusCode.NOT_FOUND, None),
        (
            wallet_pb2.CaptureHoldRequest(customer_id=customer_id, hold_id=""),
            grpc.StatusCode.INVALID_ARGUMENT,
            "hold_id",
        ),
        (
            wallet_pb2.CaptureHoldRequest(customer_id=customer_id, hold_id="h" * 65),
            grpc.StatusCode.INVALID_ARGUMENT,
            "hold_id",
        ),
        (
            wallet_pb2.CaptureHoldRequest(customer_id=customer_id, hold_id=created.hold.id, amount=-1),
            grpc.StatusCode.INVALID_ARGUMENT,
            "amount",
        ),
        (
            wallet_pb2.CaptureHoldRequest(customer_id=customer_id, hold_id=created.hold.id, amount=51),
            grpc.StatusCode.FAILED_PRECONDITION,
            None,
        ),
    ]
    for request, code, field in cases:
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await stub.CaptureHold(request)
        assert raised.value.code() == code, request
        if field:
            assert field_violations(raised.value) == [field]
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await stub.GetHold(wallet_pb2.GetHoldRequest(customer_id=customer_id + "x", hold_id=created.hold.id))
    assert error_info(raised.value).reason == "HOLD_NOT_FOUND"
    for ttl in (Duration(seconds=-1), Duration(seconds=7 * 86_400 + 1)):
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await stub.CreateHold(
                wallet_pb2.CreateHoldRequest(customer_id=customer_id, currency="USD", amount=1, ttl=ttl)
            )
        assert field_violations(raised.value) == ["ttl"]


async def test_list_holds_pages_newest_first_with_full_pages_and_filters(stub: Stub, customer_id: str) -> None:
    await stub.CreateLedgerEntry(entry_request(customer_id, 1_000))
    ids = [(await stub.CreateHold(hold_request(customer_id, 10))).hold.id for _ in range(5)]
    await stub.ReleaseHold(wallet_pb2.ReleaseHoldRequest(customer_id=customer_id, hold_id=ids[0]))
    seen: list[str] = []
    token = ""
    sizes = []
    while True:
        page = await stub.ListHolds(wallet_pb2.ListHoldsRequest(customer_id=customer_id, page_size=2, page_token=token))
        sizes.append(len(page.holds))
        seen.extend(h.id for h in page.holds)
        token = page.next_page_token
        if not token:
            break
    assert seen == list(reversed(ids)) and sizes == [2, 2, 1]
    first_page = await stub.ListHolds(wallet_pb2.ListHoldsRequest(customer_id=customer_id, page_size=2))
    active = await stub.ListHolds(
        wallet_pb2.ListHoldsRequest(customer_id=customer_id, status=wallet_pb2.HOLD_STATUS_ACTIVE)
    )
    assert [h.id for h in active.holds] == list(reversed(ids[1:]))
    for request, field in [
        (wallet_pb2.ListHoldsRequest(customer_id=customer_id, page_size=1_001), "page_size"),
        (wallet_pb2.ListHoldsRequest(customer_id=customer_id, page_token="not-a-token"), "page_token"),
        (
            wallet_pb2.ListHoldsRequest(
                customer_id=customer_id, status=wallet_pb2.HOLD_STATUS_RELEASED, page_token=first_page.next_page_token
            ),
            "page_token",
        ),
    ]:
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await stub.ListHolds(request)
        assert field_violations(raised.value) == [field]
