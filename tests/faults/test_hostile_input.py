"""Request bytes that are no request, and time windows to the nanosecond, for the entry RPCs.

The property tests of every RPC under hostile field values are one table
(tests/faults/test_hostile_rpcs.py). Here: request bytes that do not parse as
the request message at all (corrupt wire format, a string that is not UTF-8)
are hostile input too and must be INVALID_ARGUMENT, and the server keeps
serving after them; a time window's bounds are exact to the nanosecond.
"""

from __future__ import annotations

import uuid

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from tests.consistency import assert_ledger_consistent
from tests.faults.hostile import (
    UNDECODABLE,
    balances_ok,
    call,
)
from wallet.v1 import wallet_pb2

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("method", ["GetBalances", "CreateLedgerEntry", "ListLedgerEntries", "SummarizeLedger"])
def test_request_bytes_that_do_not_parse_are_refused_with_invalid_argument(channel: grpc.Channel, method: str) -> None:
    answers = {}
    for name, body in UNDECODABLE.items():
        code, _, error = call(channel, method, body)
        answers[name] = (code.name, error.details() if error else "")
    assert all(code == "INVALID_ARGUMENT" for code, _ in answers.values()), answers


def test_the_server_keeps_serving_after_request_bytes_that_do_not_parse(
    channel: grpc.Channel, database_url: str
) -> None:
    for body in UNDECODABLE.values():
        for method in ("GetBalances", "CreateLedgerEntry", "ListLedgerEntries"):
            code, _, _ = call(channel, method, body)
            assert code != grpc.StatusCode.OK
    request = wallet_pb2.GetBalancesRequest(customer_id="cus_after_garbage")
    code, responses, _ = call(channel, "GetBalances", request.SerializeToString())
    assert code == grpc.StatusCode.OK
    balances_ok(request, responses)
    assert_ledger_consistent(database_url)


def _shifted(timestamp: Timestamp, nanos: int) -> Timestamp:
    total = timestamp.seconds * 10**9 + timestamp.nanos + nanos
    return Timestamp(seconds=total // 10**9, nanos=total % 10**9)


def test_time_window_bounds_are_exact_to_the_nanosecond(channel: grpc.Channel) -> None:
    """created_after is inclusive and created_before exclusive, at the Timestamp's full precision:
    one nanosecond after an entry's time, the entry is before the window's start and inside a window
    that ends there."""
    customer_id = f"cus_ns_{uuid.uuid4().hex[:12]}"
    create = wallet_pb2.CreateLedgerEntryRequest(
        customer_id=customer_id, amount=1, currency="USD", entry_type=wallet_pb2.ENTRY_TYPE_CREDIT
    )
    _, responses, _ = call(channel, "CreateLedgerEntry", create.SerializeToString())
    created_at = wallet_pb2.CreateLedgerEntryResponse.FromString(responses[0]).entry.created_at

    def listed(**window: Timestamp) -> int:
        request = wallet_pb2.ListLedgerEntriesRequest(customer_id=customer_id)
        for name, value in window.items():
            getattr(request, name).CopyFrom(value)
        code, raw, _ = call(channel, "ListLedgerEntries", request.SerializeToString())
        assert code == grpc.StatusCode.OK
        return sum(len(wallet_pb2.ListLedgerEntriesResponse.FromString(r).entries) for r in raw)

    assert listed(created_after=created_at) == 1
    assert listed(created_before=created_at) == 0
    assert listed(created_after=_shifted(created_at, 1)) == 0
    assert listed(created_before=_shifted(created_at, 1)) == 1
