"""Every bad-input rule of the contract: INVALID_ARGUMENT, the field named, nothing written."""

from __future__ import annotations

from typing import Any

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from tests.e2e.helpers import DEBIT, entry_request, error_info, field_violations
from wallet.v1 import wallet_pb2, wallet_pb2_grpc

_GOOD: dict[str, Any] = {"amount": 100, "currency": "USD", "entry_type": wallet_pb2.ENTRY_TYPE_CREDIT}

CREATE_CASES = [
    ("empty customer_id", {"customer_id": ""}, "customer_id"),
    ("customer_id over 128 characters", {"customer_id": "c" * 129}, "customer_id"),
    ("customer_id with a space", {"customer_id": "cus 1"}, "customer_id"),
    ("customer_id with a control character", {"customer_id": "cus\x07"}, "customer_id"),
    ("customer_id with NUL", {"customer_id": "cus\x00"}, "customer_id"),
    ("zero amount", {"amount": 0}, "amount"),
    ("negative amount", {"amount": -5}, "amount"),
    ("amount over 10^15", {"amount": 10**15 + 1}, "amount"),
    ("int64 minimum amount", {"amount": -(2**63)}, "amount"),
    ("int64 maximum amount", {"amount": 2**63 - 1}, "amount"),
    ("empty currency", {"currency": ""}, "currency"),
    ("lower-case currency", {"currency": "usd"}, "currency"),
    ("malformed currency", {"currency": "US$"}, "currency"),
    ("unsupported currency", {"currency": "EUR"}, "currency"),
    ("unspecified entry type", {"entry_type": wallet_pb2.ENTRY_TYPE_UNSPECIFIED}, "entry_type"),
    ("unknown entry type number", {"entry_type": 7}, "entry_type"),
    ("reason over 1,000 characters", {"reason": "r" * 1_001}, "reason"),
    ("reason with NUL", {"reason": "a\x00b"}, "reason"),
    ("idempotency_key over 255 characters", {"idempotency_key": "k" * 256}, "idempotency_key"),
    ("metadata over 50 keys", {"metadata": {f"k{i}": "v" for i in range(51)}}, "metadata"),
    ("metadata key over 40 characters", {"metadata": {"k" * 41: "v"}}, "metadata"),
    ("metadata value over 500 characters", {"metadata": {"k": "v" * 501}}, "metadata"),
    ("empty metadata key", {"metadata": {"": "v"}}, "metadata"),
]


@pytest.mark.parametrize(("case", "fields", "field"), CREATE_CASES, ids=[c[0] for c in CREATE_CASES])
async def test_create_ledger_entry_refuses_bad_input_naming_the_field(
    stub: wallet_pb2_grpc.WalletServiceStub, customer_id: str, case: str, fields: dict[str, Any], field: str
) -> None:
    arguments = {"customer_id": customer_id, **_GOOD, **fields}
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await stub.CreateLedgerEntry(wallet_pb2.CreateLedgerEntryRequest(**arguments))
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT, case
    assert field in field_violations(raised.value)
    assert error_info(raised.value).reason == "INVALID_ARGUMENT"
    # Nothing was written for the (valid) customer of the test.
    balances = await stub.GetBalances(wallet_pb2.GetBalancesRequest(customer_id=customer_id))
    assert all(w.balance == 0 for w in balances.wallets)


async def test_limits_themselves_are_accepted(stub: wallet_pb2_grpc.WalletServiceStub) -> None:
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


async def test_every_violation_is_reported_at_once(stub: wallet_pb2_grpc.WalletServiceStub) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await stub.CreateLedgerEntry(wallet_pb2.CreateLedgerEntryRequest())
    assert set(field_violations(raised.value)) == {"customer_id", "amount", "currency", "entry_type"}


@pytest.mark.parametrize("customer", ["", " ", "x" * 129, "a\tb"])
async def test_get_balances_refuses_a_malformed_customer_id(
    stub: wallet_pb2_grpc.WalletServiceStub, customer: str
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await stub.GetBalances(wallet_pb2.GetBalancesRequest(customer_id=customer))
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field_violations(raised.value) == ["customer_id"]


LIST_CASES = [
    ("unsupported currency", {"currency": "EUR"}, "currency"),
    ("malformed currency", {"currency": "usd"}, "currency"),
    ("unknown entry type", {"entry_type": 9}, "entry_type"),
    ("negative limit", {"limit": -1}, "limit"),
    ("unknown start_after_id", {"start_after_id": "le_doesnotexist"}, "start_after_id"),
    ("start_after_id with a space", {"start_after_id": "le 1"}, "start_after_id"),
    (
        "created_after beyond year 9999",
        {"created_after": Timestamp(seconds=253_402_300_800)},
        "created_after",
    ),
    (
        "window that ends before it starts",
        {"created_after": Timestamp(seconds=2_000), "created_before": Timestamp(seconds=1_000)},
        "created_before",
    ),
]


@pytest.mark.parametrize(("case", "fields", "field"), LIST_CASES, ids=[c[0] for c in LIST_CASES])
async def test_list_ledger_entries_refuses_filters_it_does_not_know(
    stub: wallet_pb2_grpc.WalletServiceStub, customer_id: str, case: str, fields: dict[str, Any], field: str
) -> None:
    await stub.CreateLedgerEntry(entry_request(customer_id, 10))
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        async for _ in stub.ListLedgerEntries(wallet_pb2.ListLedgerEntriesRequest(customer_id=customer_id, **fields)):
            pass
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT, case
    assert field_violations(raised.value) == [field]


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
    assert dict(error_info(raised.value).metadata) == {"balance": "0", "amount": "50", "currency": "INR"}


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
