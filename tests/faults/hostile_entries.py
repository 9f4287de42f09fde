"""The hostile-input cases of GetBalances, CreateLedgerEntry and ListLedgerEntries (the registry is
tests.faults.hostile_cases, the machinery tests.faults.hostile).

CreateLedgerEntry's expire_time is valid unset or, on a credit, in the future
and at most 3,650 days ahead; set on a debit, further ahead or outside
Timestamp's range it is invalid. A past expire_time on a credit is refused by
the ledger after the idempotency check, so it is invalid only where nothing
else can answer first (every other field valid, no idempotency key). A second
CreateLedgerEntry case keeps every other field valid, so that each kind of
expire_time comes up often; it tracks its outcomes by kind.
"""

from __future__ import annotations

import time
from typing import Any

from google.protobuf.timestamp_pb2 import Timestamp
from hypothesis import strategies as st

from tests.faults.hostile import (
    AMOUNT,
    ANY,
    ANY_TEXT,
    CURRENCY,
    CURRENCY_FILTER,
    CUSTOMER_ID,
    INSUFFICIENT,
    INT32_MAX,
    INT32_MIN,
    INVALID,
    METADATA,
    OK,
    REFUSED,
    TIMESTAMP_IN_RANGE,
    TIMESTAMP_MAX,
    TIMESTAMP_OUT_OF_RANGE,
    VALID,
    Attempt,
    Drawn,
    Pools,
    RpcCase,
    balances_ok,
    draw_fields,
    in_timestamp_range,
    int_edges,
    micros,
    micros_up,
    plain,
    reaching,
    text_rule,
    timestamp_pools,
    unknown_enum,
    values_of,
    verdicts_of,
)
from wallet.v1 import wallet_pb2

CREDIT_EXPIRY_MAX_S = 3_650 * 86_400
# A time this close to now, or to the furthest expire_time allowed, is too close to call:
# the server reads its clock a few milliseconds after the test reads its own.
CLOCK_MARGIN_S = 60
EXPIRY_FIELDS = ("entry_type", "expire_time")


@st.composite
def get_balances_requests(draw: st.DrawFn) -> Drawn:
    fields = draw_fields(draw, {"customer_id": CUSTOMER_ID})
    return Drawn(wallet_pb2.GetBalancesRequest(customer_id=fields["customer_id"][1]), verdicts_of(fields))


def _from_now(seconds: int, nanos: int) -> Timestamp:
    return Timestamp(seconds=int(time.time()) + seconds, nanos=nanos)


def _beyond_expiry_max(seconds: int, nanos: int) -> Timestamp:
    """`seconds` since the epoch, moved past the furthest expire_time allowed if it is not."""
    return Timestamp(seconds=max(seconds, int(time.time()) + CREDIT_EXPIRY_MAX_S + CLOCK_MARGIN_S), nanos=nanos)


NANOS = int_edges(0, 999_999_999)
EXPIRE_AHEAD = st.builds(_from_now, int_edges(CLOCK_MARGIN_S, CREDIT_EXPIRY_MAX_S - CLOCK_MARGIN_S, 3_600), NANOS)
EXPIRE_TOO_FAR = st.builds(_beyond_expiry_max, int_edges(0, TIMESTAMP_MAX), NANOS)
EXPIRE_PAST = st.builds(_from_now, int_edges(-10 * CREDIT_EXPIRY_MAX_S, -CLOCK_MARGIN_S), NANOS)
# Too close to now or to the furthest time allowed to call.
EXPIRE_NEAR_A_LIMIT = st.builds(
    _from_now,
    st.one_of(
        int_edges(-CLOCK_MARGIN_S, CLOCK_MARGIN_S),
        int_edges(CREDIT_EXPIRY_MAX_S - CLOCK_MARGIN_S, CREDIT_EXPIRY_MAX_S + CLOCK_MARGIN_S),
    ),
    NANOS,
)
EXPIRE_TIME: Pools = {
    VALID: st.one_of(st.none(), EXPIRE_AHEAD),
    # A time that would do on a credit is invalid on a debit (`create_requests` makes it one).
    INVALID: st.one_of(TIMESTAMP_OUT_OF_RANGE, EXPIRE_TOO_FAR, EXPIRE_AHEAD),
    ANY: st.one_of(TIMESTAMP_IN_RANGE, EXPIRE_PAST, EXPIRE_NEAR_A_LIMIT),
}
# Every kind of expire_time alike, for the test that focuses on them.
EXPIRE_TIME_KINDS = [
    st.none(),
    EXPIRE_AHEAD,
    EXPIRE_PAST,
    EXPIRE_NEAR_A_LIMIT,
    EXPIRE_TOO_FAR,
    TIMESTAMP_OUT_OF_RANGE,
    TIMESTAMP_IN_RANGE,
]


def _expire_time_verdict(value: Timestamp | None, entry_type: int) -> str:
    """VALID, INVALID, ANY (too close to a limit to call) or "past" (refused by the ledger, not the parser)."""
    if value is None:
        return VALID
    if not in_timestamp_range(value) or entry_type != wallet_pb2.ENTRY_TYPE_CREDIT:
        return INVALID
    ahead_s = value.seconds + value.nanos / 1e9 - time.time()
    if ahead_s > CREDIT_EXPIRY_MAX_S + CLOCK_MARGIN_S:
        return INVALID
    if CLOCK_MARGIN_S < ahead_s < CREDIT_EXPIRY_MAX_S - CLOCK_MARGIN_S:
        return VALID
    return "past" if ahead_s < -CLOCK_MARGIN_S else ANY


@st.composite
def create_requests(draw: st.DrawFn, expiry_focus: bool = False) -> Drawn:
    """CreateLedgerEntry requests; with `expiry_focus`, valid but in entry_type and expire_time."""
    spec = {
        "customer_id": CUSTOMER_ID,
        "amount": AMOUNT,
        "currency": CURRENCY,
        "entry_type": {
            VALID: st.sampled_from([wallet_pb2.ENTRY_TYPE_CREDIT, wallet_pb2.ENTRY_TYPE_DEBIT]),
            INVALID: st.one_of(st.just(0), unknown_enum()),
        },
        "reason": text_rule(1_000),
        "idempotency_key": text_rule(255),
        "metadata": METADATA,
        "expire_time": EXPIRE_TIME,
    }
    if expiry_focus:
        # Every other field valid; credits, short keys (some reused) and every kind of time come up often.
        fields = {name: (VALID, draw(pools[VALID])) for name, pools in spec.items() if name not in EXPIRY_FIELDS}
        fields["idempotency_key"] = (VALID, draw(st.sampled_from(["", "", "k1", "k2"])))
        verdict = draw(st.sampled_from([VALID, VALID, VALID, INVALID]))
        fields["entry_type"] = (verdict, draw(spec["entry_type"][verdict]))
        # Its verdict is decided below, from the time and the entry type.
        fields["expire_time"] = (ANY, draw(st.one_of(*EXPIRE_TIME_KINDS)))
    else:
        fields = draw_fields(draw, spec)
    return _create_drawn(fields)


def _create_drawn(fields: dict[str, tuple[str, Any]]) -> Drawn:
    """The CreateLedgerEntry request of the drawn fields, with expire_time's verdict decided."""
    verdicts = verdicts_of(fields)
    expire_time, entry_type = fields["expire_time"][1], fields["entry_type"][1]
    credit = wallet_pb2.ENTRY_TYPE_CREDIT
    if verdicts["expire_time"] == VALID and entry_type != credit:
        # Only credits expire: a valid request asks nothing of a debit's expiry.
        fields["expire_time"] = (VALID, None)
        expire_time = None
    elif (
        verdicts["expire_time"] == INVALID
        and verdicts["entry_type"] == VALID
        and _expire_time_verdict(expire_time, credit) == VALID
    ):
        # A time that would do on a credit, on a debit.
        fields["entry_type"] = (VALID, wallet_pb2.ENTRY_TYPE_DEBIT)
        entry_type = wallet_pb2.ENTRY_TYPE_DEBIT
    verdicts = verdicts_of(fields)
    verdict = _expire_time_verdict(expire_time, entry_type)
    if verdict == "past":
        # The ledger refuses it after the idempotency check: only when every other field
        # passed and no key can be replayed or found reused is it surely named.
        others_valid = all(v == VALID for name, v in verdicts.items() if name != "expire_time")
        verdict = INVALID if others_valid and not fields["idempotency_key"][1] else ANY
    verdicts["expire_time"] = verdict
    message = wallet_pb2.CreateLedgerEntryRequest(**values_of(fields, "metadata"))
    message.metadata.update(fields["metadata"][1])
    return Drawn(message, verdicts)


@st.composite
def list_requests(draw: st.DrawFn) -> Drawn:
    fields = draw_fields(
        draw,
        {
            "customer_id": CUSTOMER_ID,
            "currency": CURRENCY_FILTER,
            # A history filter may name every declared type, expirations included.
            "entry_type": {VALID: st.sampled_from([0, 1, 2, 3]), INVALID: unknown_enum(4)},
            "created_after": timestamp_pools(),
            "created_before": timestamp_pools(),
            "start_after_id": {
                VALID: st.just(""),
                INVALID: st.sampled_from(["x" * 65, "le_ 1", "le_\x00", "le_\u2028"]),
                ANY: ANY_TEXT,
            },
            "limit": {VALID: int_edges(0, INT32_MAX), INVALID: int_edges(INT32_MIN, -1)},
            "newest_first": {VALID: st.booleans()},
        },
    )
    verdicts = verdicts_of(fields)
    message = wallet_pb2.ListLedgerEntriesRequest(**values_of(fields))
    after, before = fields["created_after"][1], fields["created_before"][1]
    both_valid = verdicts["created_after"] == VALID == verdicts["created_before"]
    if both_valid and after and before and (after.seconds, after.nanos) > (before.seconds, before.nanos):
        # A window that ends before it starts. Within one microsecond the server cannot tell
        # (it keeps microseconds only: see the sub-microsecond test below), so either answer goes.
        apart_ns = (after.seconds - before.seconds) * 10**9 + after.nanos - before.nanos
        verdicts["created_before"] = INVALID if apart_ns >= 1_000 else ANY
    if not message.start_after_id:
        verdicts["start_after_id"] = VALID
    elif verdicts["start_after_id"] == ANY and all(v == VALID for n, v in verdicts.items() if n != "start_after_id"):
        # Arbitrary text is no entry of this customer: refused once every other field passed.
        verdicts["start_after_id"] = INVALID
    return Drawn(message, verdicts)


def _create_ok(request: Any, responses: list[bytes]) -> None:
    response = wallet_pb2.CreateLedgerEntryResponse.FromString(responses[0])
    entry, wallet = response.entry, response.wallet
    assert (entry.customer_id, entry.currency, entry.entry_type, entry.amount) == (
        request.customer_id,
        request.currency,
        request.entry_type,
        request.amount,
    )
    assert (entry.reason, entry.idempotency_key, dict(entry.metadata)) == (
        request.reason,
        request.idempotency_key,
        dict(request.metadata),
    )
    sign = 1 if entry.entry_type == wallet_pb2.ENTRY_TYPE_CREDIT else -1
    assert entry.after_balance == entry.before_balance + sign * entry.amount >= 0
    assert wallet.balance == entry.after_balance and wallet.currency == entry.currency
    assert entry.id.startswith("le_") and entry.HasField("created_at")
    assert not entry.hold_id and not entry.expired_entry_id
    if request.HasField("expire_time"):
        # Kept to the microsecond, and in the future when the credit was applied.
        assert entry.HasField("expire_time") and micros(entry.expire_time) == micros_up(request.expire_time)
        assert micros(entry.expire_time) > micros(entry.created_at), (entry.expire_time, entry.created_at)
    else:
        assert not entry.HasField("expire_time")


def _list_ok(request: Any, responses: list[bytes]) -> None:
    entries = [e for raw in responses for e in wallet_pb2.ListLedgerEntriesResponse.FromString(raw).entries]
    assert all(e.customer_id == request.customer_id for e in entries)
    if request.currency:
        assert all(e.currency == request.currency for e in entries)
    if request.entry_type:
        assert all(e.entry_type == request.entry_type for e in entries)
    if request.limit > 0:
        assert len(entries) <= request.limit
    if request.HasField("created_after"):
        start = (request.created_after.seconds, request.created_after.nanos)
        assert all((e.created_at.seconds, e.created_at.nanos) >= start for e in entries)
    if request.HasField("created_before"):
        end = (request.created_before.seconds, request.created_before.nanos)
        assert all((e.created_at.seconds, e.created_at.nanos) < end for e in entries)


# A credit that expired a day ago, with no idempotency key: always tried, as random draws seldom make one.
PAST_CREDIT = _create_drawn(
    {
        "customer_id": (VALID, "cus_hostile_past_credit"),
        "amount": (VALID, 1),
        "currency": (VALID, "USD"),
        "entry_type": (VALID, wallet_pb2.ENTRY_TYPE_CREDIT),
        "reason": (VALID, ""),
        "idempotency_key": (VALID, ""),
        "metadata": (VALID, {}),
        "expire_time": (ANY, _from_now(-86_400, 0)),
    }
)


def _expiry_attempt(drawn: Drawn) -> Attempt:
    """An attempt of the expiry-focused case, its kind: the time's verdict, and the verdict drawn."""
    message: Any = drawn.message
    expire_time = message.expire_time if message.HasField("expire_time") else None
    verdict = _expire_time_verdict(expire_time, message.entry_type)
    return Attempt(drawn, _create_ok, kind=f"expire_time {verdict}, drawn {drawn.verdicts['expire_time']}")


CASES = [
    RpcCase(
        "GetBalances",
        "GetBalances",
        wallet_pb2.GetBalancesRequest,
        lambda _: plain(get_balances_requests(), balances_ok),
        reaching(OK, REFUSED),
    ),
    RpcCase(
        "CreateLedgerEntry",
        "CreateLedgerEntry",
        wallet_pb2.CreateLedgerEntryRequest,
        lambda _: plain(create_requests(), _create_ok),
        reaching(OK, REFUSED, INSUFFICIENT),
    ),
    # Every field valid but entry_type and expire_time: a past expire_time on a credit with no
    # idempotency key is refused naming it, one in range is applied and kept, an invalid one refused.
    RpcCase(
        "CreateLedgerEntry expire_time",
        "CreateLedgerEntry",
        wallet_pb2.CreateLedgerEntryRequest,
        lambda _: create_requests(expiry_focus=True).map(_expiry_attempt),
        reaching(REFUSED, kind=f"expire_time past, drawn {INVALID}")
        | reaching(OK, kind=f"expire_time {VALID}, drawn {VALID}")
        | reaching(REFUSED, kind=f"expire_time {INVALID}, drawn {INVALID}"),
        max_examples=75,
        always=(_expiry_attempt(PAST_CREDIT),),
    ),
    RpcCase(
        "ListLedgerEntries",
        "ListLedgerEntries",
        wallet_pb2.ListLedgerEntriesRequest,
        lambda _: plain(list_requests(), _list_ok),
        reaching(OK, REFUSED),
    ),
]
