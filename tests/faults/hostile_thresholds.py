"""The hostile-input case of SetLowBalanceThreshold (the registry is tests.faults.hostile_cases):
an OK answer is the customer's wallet in that currency with the threshold asked for, its balances agreeing.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from tests.faults.hostile import (
    AMOUNT_MAX,
    CURRENCY,
    CUSTOMER_ID,
    INVALID,
    OK,
    REFUSED,
    VALID,
    Drawn,
    RpcCase,
    check_wallet,
    draw_fields,
    int_edges,
    plain,
    reaching,
    values_of,
    verdicts_of,
)
from wallet.v1 import wallet_pb2

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


CASES = [
    RpcCase(
        "SetLowBalanceThreshold",
        "SetLowBalanceThreshold",
        wallet_pb2.SetLowBalanceThresholdRequest,
        lambda _: plain(threshold_requests(), _threshold_ok),
        reaching(OK, REFUSED),
    ),
]
