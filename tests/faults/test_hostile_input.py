"""Goal: no request field of any RPC, however hostile, gets an answer other than INVALID_ARGUMENT or a valid result.

Method: hypothesis builds requests for GetBalances, CreateLedgerEntry and
ListLedgerEntries field by field. Each field's value comes from one of three
pools, and the test knows which: clearly valid, clearly invalid (breaking a
rule that wallet.proto documents), or anything (arbitrary unicode including
NUL, very long strings, integers at and beyond the edges of their type,
unknown enum numbers, out-of-range timestamps). The request is serialized,
unknown fields are appended as raw bytes (unknown field numbers with every
wire type, and known numbers with a wrong wire type), and it is sent through
a generic `channel.unary_unary` with identity serializers to a real server
process. Properties (asserted by `tests.faults.hostile.check_answer`, which
holds the machinery the hold RPCs' tests share):
- the status is OK, INVALID_ARGUMENT, or a business refusal of the RPC
  (FAILED_PRECONDITION, ALREADY_EXISTS, each with its ErrorInfo reason);
  RESOURCE_EXHAUSTED only for a request above the server's maximum message
  size; never UNKNOWN or INTERNAL;
- INVALID_ARGUMENT carries a BadRequest that names every field drawn from the
  invalid pool, none drawn from the valid pool and no field the request does
  not declare; a request made only of valid fields is never INVALID_ARGUMENT;
- an OK answer is well-formed and agrees with the request;
- afterwards the whole ledger is consistent.
CreateLedgerEntry's expire_time is valid unset or, on a credit, in the future
and at most 3,650 days ahead; set on a debit, further ahead or outside
Timestamp's range it is invalid. A past expire_time on a credit is refused by
the ledger after the idempotency check, so it is invalid only where nothing
else can answer first (every other field valid, no idempotency key). A second
CreateLedgerEntry test keeps every other field valid, so that each kind of
expire_time comes up often.
The examples are derandomized (see the profile in `tests.faults.hostile`):
every run draws the same requests (times relative to the clock), so a failure reproduces.
A last test sends request bytes that do not parse as the request message at
all (corrupt wire format, a string that is not UTF-8): they are hostile input
too and should be INVALID_ARGUMENT.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from hypothesis import example, given, settings
from hypothesis import strategies as st

from tests.consistency import assert_ledger_consistent
from tests.faults.hostile import (
    AMOUNT,
    ANY,
    ANY_TEXT,
    CURRENCY,
    CURRENCY_FILTER,
    CUSTOMER_ID,
    INT32_MAX,
    INT32_MIN,
    INVALID,
    METADATA,
    PROFILE,
    TIMESTAMP_IN_RANGE,
    TIMESTAMP_MAX,
    TIMESTAMP_OUT_OF_RANGE,
    UNDECODABLE,
    VALID,
    Drawn,
    Pools,
    call,
    check_answer,
    check_wallet,
    draw_fields,
    in_timestamp_range,
    int_edges,
    known_fields,
    micros,
    micros_up,
    text_rule,
    timestamp_pools,
    unknown_enum,
    unknown_fields,
    values_of,
    verdicts_of,
)
from wallet.v1 import wallet_pb2

pytestmark = pytest.mark.slow

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


# ---------------------------------------------------------------- the server


def _balances_ok(request: Any, responses: list[bytes]) -> None:
    response = wallet_pb2.GetBalancesResponse.FromString(responses[0])
    assert response.customer_id == request.customer_id
    currencies = [w.currency for w in response.wallets]
    assert currencies == sorted(currencies) and {"USD", "INR"} <= set(currencies)
    for wallet in response.wallets:
        check_wallet(wallet, request.customer_id, wallet.currency)


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


GET_BALANCES_FIELDS = known_fields(wallet_pb2.GetBalancesRequest)
CREATE_FIELDS = known_fields(wallet_pb2.CreateLedgerEntryRequest)
LIST_FIELDS = known_fields(wallet_pb2.ListLedgerEntriesRequest)


def test_get_balances_answers_any_request_with_invalid_argument_or_a_valid_result(
    channel: grpc.Channel, database_url: str
) -> None:
    @PROFILE
    @given(drawn=get_balances_requests(), unknown=unknown_fields(GET_BALANCES_FIELDS))
    def examples(drawn: Drawn, unknown: bytes) -> None:
        check_answer(channel, "GetBalances", drawn, unknown, _balances_ok)

    examples()
    assert_ledger_consistent(database_url)


def test_create_ledger_entry_answers_any_request_with_invalid_argument_a_refusal_or_a_valid_entry(
    channel: grpc.Channel, database_url: str
) -> None:
    @PROFILE
    @given(drawn=create_requests(), unknown=unknown_fields(CREATE_FIELDS))
    def examples(drawn: Drawn, unknown: bytes) -> None:
        check_answer(channel, "CreateLedgerEntry", drawn, unknown, _create_ok)

    examples()
    assert_ledger_consistent(database_url)


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


def test_create_ledger_entry_answers_any_expire_time_with_invalid_argument_a_refusal_or_an_expiring_credit(
    channel: grpc.Channel, database_url: str
) -> None:
    """The same property with every field valid but entry_type and expire_time: a past expire_time on a
    credit with no idempotency key is refused naming it, one in range is applied and kept."""
    seen: set[tuple[str, str, grpc.StatusCode]] = set()

    @settings(PROFILE, max_examples=75)
    @given(drawn=create_requests(expiry_focus=True), unknown=unknown_fields(CREATE_FIELDS))
    @example(drawn=PAST_CREDIT, unknown=b"")
    def examples(drawn: Drawn, unknown: bytes) -> None:
        code, _ = check_answer(channel, "CreateLedgerEntry", drawn, unknown, _create_ok)
        message: Any = drawn.message
        expire_time = message.expire_time if message.HasField("expire_time") else None
        seen.add((_expire_time_verdict(expire_time, message.entry_type), drawn.verdicts["expire_time"], code))

    examples()
    # Each case came up: past on a credit (surely refused), within range (applied), invalid (refused).
    ok, refused = grpc.StatusCode.OK, grpc.StatusCode.INVALID_ARGUMENT
    assert {("past", INVALID, refused), (VALID, VALID, ok), (INVALID, INVALID, refused)} <= seen, seen
    assert_ledger_consistent(database_url)


def test_list_ledger_entries_answers_any_request_with_invalid_argument_or_a_valid_stream(
    channel: grpc.Channel, database_url: str
) -> None:
    @PROFILE
    @given(drawn=list_requests(), unknown=unknown_fields(LIST_FIELDS))
    def examples(drawn: Drawn, unknown: bytes) -> None:
        check_answer(channel, "ListLedgerEntries", drawn, unknown, _list_ok)

    examples()
    assert_ledger_consistent(database_url)


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
    _balances_ok(request, responses)
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
