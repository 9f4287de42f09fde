"""The hostile-input cases of the report requests (the registry is tests.faults.hostile_cases, the
machinery tests.faults.hostile): GetBalances with `as_of`, and SummarizeLedger.

An OK summary tiles the range asked for (to the microsecond, rounded up as
the server stores times) with balances that chain. SummarizeLedger's end_time
is drawn relative to start_time: after it by up to 30 days (never more than
1,000 buckets, even by the hour), or not after it (invalid, naming end_time,
when start_time itself is valid).
"""

from __future__ import annotations

import itertools
import time
from typing import Any

from google.protobuf.timestamp_pb2 import Timestamp
from hypothesis import strategies as st

from tests.faults.hostile import (
    ANY,
    ANY_TEXT,
    CURRENCY,
    CUSTOMER_ID,
    INVALID,
    OK,
    REFUSED,
    TIMESTAMP_OUT_OF_RANGE,
    VALID,
    Drawn,
    RpcCase,
    balances_ok,
    draw_fields,
    int_edges,
    micros_up,
    plain,
    reaching,
    text_rule,
    unknown_enum,
    values_of,
    verdicts_of,
)
from wallet.v1 import wallet_pb2

# The server reads its clock a few milliseconds after the test reads its own: too close to call.
CLOCK_MARGIN_S = 60
NANOS = int_edges(0, 999_999_999)
YEAR_2000, YEAR_2040 = 946_684_800, 2_208_988_800
DAYS_30_S = 30 * 86_400


def _ago(seconds: int, nanos: int) -> Timestamp:
    return Timestamp(seconds=int(time.time()) - seconds, nanos=nanos)


AS_OF = {
    VALID: st.one_of(st.none(), st.builds(_ago, int_edges(CLOCK_MARGIN_S, 10**10), NANOS)),
    INVALID: st.one_of(TIMESTAMP_OUT_OF_RANGE, st.builds(_ago, int_edges(-(10**10), -CLOCK_MARGIN_S), NANOS)),
    ANY: st.builds(_ago, int_edges(-CLOCK_MARGIN_S, CLOCK_MARGIN_S), NANOS),
}
START_TIME = {
    VALID: st.builds(Timestamp, seconds=int_edges(YEAR_2000, YEAR_2040), nanos=NANOS),
    INVALID: st.one_of(st.none(), TIMESTAMP_OUT_OF_RANGE),
}
# Seconds after start_time (the same nanos), or an absolute value.
END_TIME = {
    VALID: st.tuples(st.just("after"), int_edges(1, DAYS_30_S)),
    INVALID: st.one_of(
        st.tuples(st.just("not after"), int_edges(-DAYS_30_S, 0)),
        st.tuples(st.just("absolute"), st.one_of(st.none(), TIMESTAMP_OUT_OF_RANGE)),
    ),
}
ZONES = ["", "UTC", "Asia/Kolkata", "Asia/Kathmandu", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe"]
TIME_ZONE = {
    VALID: st.sampled_from(ZONES),
    INVALID: st.sampled_from(["Mars/Olympus", "localtime", "UTC\x00", "z" * 65, "../etc/passwd", "/etc/UTC", "Europe"]),
    ANY: ANY_TEXT,
}


@st.composite
def balances_as_of_requests(draw: st.DrawFn) -> Drawn:
    fields = draw_fields(draw, {"customer_id": CUSTOMER_ID, "as_of": AS_OF})
    return Drawn(wallet_pb2.GetBalancesRequest(**values_of(fields)), verdicts_of(fields))


@st.composite
def summary_requests(draw: st.DrawFn) -> Drawn:
    fields = draw_fields(
        draw,
        {
            "customer_id": CUSTOMER_ID,
            "currency": CURRENCY,
            "start_time": START_TIME,
            "end_time": END_TIME,
            "period": {VALID: st.sampled_from([0, 1, 2, 3, 4]), INVALID: unknown_enum(5)},
            "time_zone": TIME_ZONE,
            "group_by_metadata_key": text_rule(40),
        },
    )
    verdict, (kind, value) = fields["end_time"]
    start = fields["start_time"][1]
    base = start if fields["start_time"][0] == VALID else Timestamp(seconds=YEAR_2000)
    if kind != "absolute":
        value = Timestamp(seconds=base.seconds + value, nanos=base.nanos)
        if kind == "not after" and fields["start_time"][0] != VALID:
            verdict = ANY  # with no start to compare, the server has nothing to refuse it for
    fields["end_time"] = (verdict, value)
    return Drawn(wallet_pb2.SummarizeLedgerRequest(**values_of(fields)), verdicts_of(fields))


def _summary_ok(request: Any, responses: list[bytes]) -> None:
    response = wallet_pb2.SummarizeLedgerResponse.FromString(responses[0])
    assert (response.customer_id, response.currency) == (request.customer_id, request.currency)
    assert response.time_zone == (request.time_zone or "UTC")
    buckets = response.buckets
    assert 1 <= len(buckets) <= 1_000
    assert micros_up(buckets[0].start_time) == micros_up(request.start_time)
    assert micros_up(buckets[-1].end_time) == micros_up(request.end_time)
    for before, after in itertools.pairwise(buckets):
        assert before.end_time == after.start_time and before.closing_balance == after.opening_balance
    for bucket in buckets:
        assert bucket.closing_balance == bucket.opening_balance + bucket.credited - bucket.debited - bucket.expired
        assert micros_up(bucket.start_time) < micros_up(bucket.end_time)
        assert request.group_by_metadata_key or not bucket.debits_by_metadata


CASES = [
    RpcCase(
        "GetBalances as_of",
        "GetBalances",
        wallet_pb2.GetBalancesRequest,
        lambda _: plain(balances_as_of_requests(), balances_ok),
        reaching(OK, REFUSED),
    ),
    RpcCase(
        "SummarizeLedger",
        "SummarizeLedger",
        wallet_pb2.SummarizeLedgerRequest,
        lambda _: plain(summary_requests(), _summary_ok),
        reaching(OK, REFUSED),
    ),
]
