"""Goal: no field of SetLowBalanceThreshold, however hostile, gets an answer other than INVALID_ARGUMENT or the wallet.

Method and properties as in `tests/faults/test_hostile_input.py` (the shared
machinery is `tests.faults.hostile`): requests built field by field from
valid, invalid and arbitrary pools, sent as raw bytes with unknown fields
appended to a real server process. INVALID_ARGUMENT must name exactly the
invalid fields; an OK answer is the customer's wallet in that currency with
the threshold asked for and its balances agreeing.
"""

from __future__ import annotations

from typing import Any

import grpc
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.consistency import assert_ledger_consistent
from tests.faults.hostile import (
    AMOUNT_MAX,
    CURRENCY,
    CUSTOMER_ID,
    INVALID,
    PROFILE,
    VALID,
    Drawn,
    check_answer,
    check_wallet,
    draw_fields,
    int_edges,
    known_fields,
    unknown_fields,
    values_of,
    verdicts_of,
)
from wallet.v1 import wallet_pb2

pytestmark = pytest.mark.slow

THRESHOLD = {
    VALID: int_edges(0, AMOUNT_MAX),
    INVALID: st.one_of(int_edges(-(2**63), -1), int_edges(AMOUNT_MAX + 1, 2**63 - 1)),
}


@st.composite
def threshold_requests(draw: st.DrawFn) -> Drawn:
    fields = draw_fields(draw, {"customer_id": CUSTOMER_ID, "currency": CURRENCY, "threshold": THRESHOLD})
    return Drawn(wallet_pb2.SetLowBalanceThresholdRequest(**values_of(fields)), verdicts_of(fields))


def _threshold_ok(request: Any, responses: list[bytes]) -> None:
    wallet = wallet_pb2.SetLowBalanceThresholdResponse.FromString(responses[0]).wallet
    check_wallet(wallet, request.customer_id, request.currency)
    assert wallet.low_balance_threshold == request.threshold


def test_set_low_balance_threshold_answers_any_request_with_invalid_argument_or_the_wallet(
    channel: grpc.Channel, database_url: str
) -> None:
    @PROFILE
    @given(drawn=threshold_requests(), unknown=unknown_fields(known_fields(wallet_pb2.SetLowBalanceThresholdRequest)))
    def examples(drawn: Drawn, unknown: bytes) -> None:
        check_answer(channel, "SetLowBalanceThreshold", drawn, unknown, _threshold_ok)

    examples()
    assert_ledger_consistent(database_url)
