"""The request-shape rules, with no server: each bad field is named, every violation at once.

`server.api.parse` turns a proto request into a domain request or an
InvalidArgument listing every bad field. The end-to-end check that such a
refusal reaches the wire as INVALID_ARGUMENT with its details is in
tests/e2e/test_bad_input.py.
"""

from __future__ import annotations

from typing import Any

import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from server.api import parse, parse_holds, parse_reports
from server.config import Settings, parse_currencies
from server.domain.errors import InvalidArgument
from server.domain.limits import AMOUNT_MAX
from server.domain.model import EntryType
from wallet.v1 import wallet_pb2

CURRENCIES = parse_currencies("USD:2,INR:2")
SETTINGS = Settings(currencies=CURRENCIES)
_GOOD: dict[str, Any] = {
    "customer_id": "cus_1",
    "amount": 100,
    "currency": "USD",
    "entry_type": wallet_pb2.ENTRY_TYPE_CREDIT,
}

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


def _violations(refused: pytest.ExceptionInfo[InvalidArgument]) -> list[str]:
    return [violation.field for violation in refused.value.violations]


@pytest.mark.parametrize(("case", "fields", "field"), CREATE_CASES, ids=[c[0] for c in CREATE_CASES])
def test_an_entry_request_with_a_bad_field_is_refused_naming_that_field(
    case: str, fields: dict[str, Any], field: str
) -> None:
    with pytest.raises(InvalidArgument) as refused:
        parse.entry_request(wallet_pb2.CreateLedgerEntryRequest(**{**_GOOD, **fields}), SETTINGS)
    assert _violations(refused) == [field], case


def test_an_entry_request_at_every_limit_is_accepted_as_sent() -> None:
    metadata = {f"{i:02d}" + "k" * 38: "v" * 500 for i in range(50)}
    request = wallet_pb2.CreateLedgerEntryRequest(
        customer_id="c" * 128,
        amount=AMOUNT_MAX,
        currency="INR",
        entry_type=wallet_pb2.ENTRY_TYPE_DEBIT,
        reason="r" * 1_000,
        idempotency_key="k" * 255,
        metadata=metadata,
    )
    parsed = parse.entry_request(request, SETTINGS, created_by="billing")
    assert (parsed.customer_id, parsed.amount, parsed.currency, parsed.entry_type) == (
        "c" * 128,
        AMOUNT_MAX,
        "INR",
        EntryType.DEBIT,
    )
    assert (parsed.reason, parsed.idempotency_key, dict(parsed.metadata), parsed.created_by) == (
        "r" * 1_000,
        "k" * 255,
        metadata,
        "billing",
    )


def test_an_empty_entry_request_reports_every_missing_field_at_once() -> None:
    with pytest.raises(InvalidArgument) as refused:
        parse.entry_request(wallet_pb2.CreateLedgerEntryRequest(), SETTINGS)
    assert _violations(refused) == ["customer_id", "amount", "currency", "entry_type"]


@pytest.mark.parametrize("customer", ["", " ", "x" * 129, "a\tb"])
def test_a_balance_request_with_a_malformed_customer_id_is_refused(customer: str) -> None:
    with pytest.raises(InvalidArgument) as refused:
        parse_reports.balances_query(wallet_pb2.GetBalancesRequest(customer_id=customer))
    assert _violations(refused) == ["customer_id"]


LIST_CASES = [
    ("unsupported currency", {"currency": "EUR"}, "currency"),
    ("malformed currency", {"currency": "usd"}, "currency"),
    ("unknown entry type", {"entry_type": 9}, "entry_type"),
    ("negative limit", {"limit": -1}, "limit"),
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
def test_a_history_request_with_a_bad_filter_is_refused_naming_that_filter(
    case: str, fields: dict[str, Any], field: str
) -> None:
    with pytest.raises(InvalidArgument) as refused:
        parse.history_query(wallet_pb2.ListLedgerEntriesRequest(customer_id="cus_1", **fields), CURRENCIES)
    assert _violations(refused) == [field], case


def test_a_history_bound_between_two_microseconds_rounds_up_to_the_next_one() -> None:
    request = wallet_pb2.ListLedgerEntriesRequest(customer_id="cus_1", created_after=Timestamp(seconds=10, nanos=5_500))
    query = parse.history_query(request, CURRENCIES)
    assert query.created_after is not None and query.created_after.microsecond == 6


def test_a_hold_ttl_whose_nanos_overflow_a_second_is_not_a_duration() -> None:
    request = wallet_pb2.CreateHoldRequest(customer_id="cus_1", currency="USD", amount=1)
    request.ttl.nanos = 2_000_000_000
    with pytest.raises(InvalidArgument) as refused:
        parse_holds.hold_request(request, SETTINGS)
    assert _violations(refused) == ["ttl"]
