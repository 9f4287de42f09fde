"""Goal: no request field of any RPC, however hostile, gets an answer other than INVALID_ARGUMENT, a
refusal the RPC declares, or a valid result.

Method: one test, run for each case of the registry (tests.faults.hostile_cases): hypothesis
builds the RPC's requests field by field, each field's value from a valid, an invalid or an
anything pool (arbitrary unicode including NUL, very long strings, integers at and beyond the
edges of their type, unknown enum numbers, out-of-range timestamps), appends unknown fields as
raw bytes (unknown numbers with every wire type, known numbers with a wrong one), puts in place
what the request names (a funded wallet, a hold in some state) and sends the bytes through a
generic channel to a real server process. Properties (asserted by
`tests.faults.hostile.check_answer`):
- never UNKNOWN or INTERNAL; RESOURCE_EXHAUSTED only above the server's maximum message size;
- INVALID_ARGUMENT names every field drawn from the invalid pool, none from the valid pool and
  nothing the request does not declare; a request valid in every field is never INVALID_ARGUMENT;
- a refusal is one the RPC declares, with its ErrorInfo reason; a request valid in every field
  gets one of the answers its case calls for, when the case knows them;
- an OK answer is well-formed and agrees with the request (the case's check);
- every outcome the case lists was reached at least once, so no property holds vacuously;
- afterwards the whole ledger is consistent.
The examples are derandomized (the profile in `tests.faults.hostile`): every run draws the same
requests (times relative to the clock), so a failure reproduces.
"""

from __future__ import annotations

from collections import Counter

import grpc
import pytest
from hypothesis import example, given, settings

from tests.consistency import assert_ledger_consistent
from tests.faults.hostile import PROFILE, Attempt, Outcome, RpcCase, check_answer, known_fields, unknown_fields
from tests.faults.hostile_cases import CASES, NOT_HERE
from tests.faults.hostile_holds import Setup
from wallet.v1 import wallet_pb2

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def setup(channel: grpc.Channel) -> Setup:
    return Setup(channel)


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_an_rpc_answers_any_request_with_invalid_argument_a_declared_refusal_or_a_valid_result(
    channel: grpc.Channel, setup: Setup, database_url: str, case: RpcCase
) -> None:
    reached: Counter[tuple[str, Outcome]] = Counter()

    @settings(PROFILE, max_examples=case.max_examples)
    @given(attempt=case.attempts(setup), unknown=unknown_fields(known_fields(case.request_type)))
    def examples(attempt: Attempt, unknown: bytes) -> None:
        if attempt.prepare is not None:
            attempt.prepare()
        reached[attempt.kind, check_answer(channel, case.method, attempt.drawn, unknown, attempt.check_ok)] += 1

    for always in case.always:
        examples = example(attempt=always, unknown=b"")(examples)
    examples()
    assert case.reached <= set(reached), (case.name, case.reached - set(reached), reached)
    assert_ledger_consistent(database_url)


def test_every_unary_rpc_of_the_service_has_a_case_or_says_why_not() -> None:
    service = wallet_pb2.DESCRIPTOR.services_by_name["WalletService"]
    covered = {case.method for case in CASES}
    assert {m.name for m in service.methods} == covered | set(NOT_HERE), covered
    assert not covered & set(NOT_HERE)
