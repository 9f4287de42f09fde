"""Bad input end to end: a refusal reaches the wire as INVALID_ARGUMENT with its details, nothing written.

Every shape rule is tested without a server in tests/unit/test_parse.py; the
checks here are those that need the wire or the ledger.
"""

from __future__ import annotations

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from tests.e2e.helpers import DEBIT, entry_request, error_info, field_violations
from wallet.v1 import wallet_pb2, wallet_pb2_grpc


async def test_a_malformed_entry_reaches_the_wire_as_invalid_argument_naming_each_field_and_writes_nothing(
    stub: wallet_pb2_grpc.WalletServiceStub, customer_id: str
) -> None:
    request = entry_request(customer_id, 0, reason="a\x00b")
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await stub.CreateLedgerEntry(request)
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field_violations(raised.value) == ["amount", "reason"]
    assert error_info(raised.value).reason == "INVALID_ARGUMENT"
    balances = await stub.GetBalances(wallet_pb2.GetBalancesRequest(customer_id=customer_id))
    assert all(w.balance == 0 for w in balances.wallets)


async def test_a_malformed_balance_request_reaches_the_wire_as_invalid_argument(
    stub: wallet_pb2_grpc.WalletServiceStub,
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await stub.GetBalances(wallet_pb2.GetBalancesRequest(customer_id="a b"))
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field_violations(raised.value) == ["customer_id"]


async def test_a_malformed_history_request_reaches_the_wire_as_invalid_argument(
    stub: wallet_pb2_grpc.WalletServiceStub, customer_id: str
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        async for _ in stub.ListLedgerEntries(wallet_pb2.ListLedgerEntriesRequest(customer_id=customer_id, limit=-1)):
            pass
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field_violations(raised.value) == ["limit"]


async def test_a_resume_point_that_is_no_entry_is_refused_after_the_ledger_looked(
    stub: wallet_pb2_grpc.WalletServiceStub, customer_id: str
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        async for _ in stub.ListLedgerEntries(
            wallet_pb2.ListLedgerEntriesRequest(customer_id=customer_id, start_after_id="le_doesnotexist")
        ):
            pass
    assert field_violations(raised.value) == ["start_after_id"]


async def test_limits_themselves_are_accepted_end_to_end(stub: wallet_pb2_grpc.WalletServiceStub) -> None:
    response = await stub.CreateLedgerEntry(
        entry_request(
            "c" * 128,
            10**15,
            reason="r" * 1_000,
            idempotency_key="k" * 255,
            metadata={f"{i:02d}" + "k" * 38: "v" * 500 for i in range(50)},
        )
    )
    assert response.entry.amount == 10**15
    assert len(response.entry.metadata) == 50


async def test_another_customers_entry_id_is_not_a_valid_resume_point(
    stub: wallet_pb2_grpc.WalletServiceStub, customer_id: str
) -> None:
    other = await stub.CreateLedgerEntry(entry_request(customer_id + "_other", 10))
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        async for _ in stub.ListLedgerEntries(
            wallet_pb2.ListLedgerEntriesRequest(customer_id=customer_id, start_after_id=other.entry.id)
        ):
            pass
    assert field_violations(raised.value) == ["start_after_id"]


async def test_a_refused_debit_reports_balance_amount_and_currency(
    stub: wallet_pb2_grpc.WalletServiceStub, customer_id: str
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await stub.CreateLedgerEntry(entry_request(customer_id, 50, DEBIT, currency="INR"))
    assert dict(error_info(raised.value).metadata) == {
        "balance": "0",
        "amount": "50",
        "currency": "INR",
        "held_balance": "0",
        "available_balance": "0",
    }


@pytest.mark.parametrize("method", ["GetBalances", "CreateLedgerEntry", "ListLedgerEntries"])
async def test_a_body_that_is_not_a_protobuf_message_is_invalid_argument(
    wallet_server: tuple[object, str], method: str
) -> None:
    async with grpc.aio.insecure_channel(wallet_server[1]) as channel:
        path = f"/wallet.v1.WalletService/{method}"
        # A length-delimited field whose length runs past the end of the body.
        garbage = b"\x0a\xff\xff\xff\x0f"
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            if method == "ListLedgerEntries":
                async for _ in channel.unary_stream(path)(garbage):
                    pass
            else:
                await channel.unary_unary(path)(garbage)
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field_violations(raised.value) == ["request"]


async def test_time_bounds_between_two_microseconds_round_up(
    stub: wallet_pb2_grpc.WalletServiceStub, customer_id: str
) -> None:
    created = (await stub.CreateLedgerEntry(entry_request(customer_id, 10))).entry
    just_after = Timestamp(seconds=created.created_at.seconds, nanos=created.created_at.nanos + 500)
    request = wallet_pb2.ListLedgerEntriesRequest
    after = [
        e
        async for m in stub.ListLedgerEntries(request(customer_id=customer_id, created_after=just_after))
        for e in m.entries
    ]
    before = [
        e
        async for m in stub.ListLedgerEntries(request(customer_id=customer_id, created_before=just_after))
        for e in m.entries
    ]
    assert after == []
    assert [e.id for e in before] == [created.id]
