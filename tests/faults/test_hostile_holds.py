"""Hold request bytes that are no request, and a NUL in a hold id.

The property tests of every hold RPC under hostile field values are rows of one table
(tests/faults/test_hostile_rpcs.py, cases in tests.faults.hostile_holds). Here: request
bytes that do not parse as the request message are INVALID_ARGUMENT naming `request`,
and the server keeps serving after them. A hold id with NUL (which PostgreSQL text
cannot hold) is NOT_FOUND, and a token with one INVALID_ARGUMENT: the properties found
it ending INTERNAL once, and a test keeps it fixed.
"""

from __future__ import annotations

from typing import Any

import grpc
import pytest

from tests.consistency import assert_ledger_consistent
from tests.e2e.helpers import field_violations
from tests.faults.hostile import (
    ANY,
    UNDECODABLE,
    VALID,
    Drawn,
    call,
    check_answer,
)
from tests.faults.hostile_holds import (
    ACTIVE,
    HOLD_METHODS,
    Setup,
    Target,
    get_hold_ok,
    page_token_of,
)
from wallet.v1 import wallet_pb2

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def setup(channel: grpc.Channel) -> Setup:
    return Setup(channel)


@pytest.mark.parametrize("method", HOLD_METHODS)
def test_hold_request_bytes_that_do_not_parse_are_refused_with_invalid_argument_naming_the_request(
    channel: grpc.Channel, method: str
) -> None:
    answers = {}
    for name, body in UNDECODABLE.items():
        code, _, error = call(channel, method, body)
        answers[name] = (code.name, field_violations(error) if code == grpc.StatusCode.INVALID_ARGUMENT else [])
    assert all(answer == ("INVALID_ARGUMENT", ["request"]) for answer in answers.values()), answers


def test_the_server_keeps_serving_holds_after_request_bytes_that_do_not_parse(
    channel: grpc.Channel, setup: Setup, database_url: str
) -> None:
    for body in UNDECODABLE.values():
        for method in HOLD_METHODS:
            code, _, _ = call(channel, method, body)
            assert code == grpc.StatusCode.INVALID_ARGUMENT
    hold = setup.hold("cus_hostile_holds_after_garbage", "USD", 5, ACTIVE)
    request = wallet_pb2.GetHoldRequest(customer_id=hold.customer_id, hold_id=hold.id)
    code, responses, _ = call(channel, "GetHold", request.SerializeToString())
    assert code == grpc.StatusCode.OK
    get_hold_ok(Target(ACTIVE, "USD", 5, ""))(request, responses)
    assert_ledger_consistent(database_url)


@pytest.mark.parametrize("method", ["CaptureHold", "ReleaseHold", "GetHold", "ListHolds"])
def test_a_nul_in_a_hold_id_is_not_an_internal_error(channel: grpc.Channel, method: str) -> None:
    """A hold id is 1-64 characters, so "hd_\\x00" is well-formed: the answer should be HOLD_NOT_FOUND (or an
    empty page), or INVALID_ARGUMENT naming the field. PostgreSQL text cannot hold NUL: such an id was once
    sent to the store anyway and psycopg's DataError became INTERNAL."""
    customer_id = "cus_hostile_holds_nul"
    message: Any
    if method == "ListHolds":
        message = wallet_pb2.ListHoldsRequest(
            customer_id=customer_id, page_token=page_token_of("2024-01-01T00:00:00+00:00|hd_\x00")
        )
        verdicts = {"customer_id": VALID, "page_token": ANY}
    else:
        message_type = {
            "CaptureHold": wallet_pb2.CaptureHoldRequest,
            "ReleaseHold": wallet_pb2.ReleaseHoldRequest,
            "GetHold": wallet_pb2.GetHoldRequest,
        }[method]
        message = message_type(customer_id=customer_id, hold_id="hd_\x00")
        verdicts = {"customer_id": VALID, "hold_id": ANY}
    check_answer(channel, method, Drawn(message, verdicts), b"", lambda request, responses: None)
