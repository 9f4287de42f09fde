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
process. Properties:
- the status is OK, INVALID_ARGUMENT, or a business refusal of the RPC
  (FAILED_PRECONDITION, ALREADY_EXISTS); RESOURCE_EXHAUSTED only for a request
  above the server's maximum message size; never UNKNOWN or INTERNAL;
- INVALID_ARGUMENT carries a BadRequest that names every field drawn from the
  invalid pool and none drawn from the valid pool; a request made only of
  valid fields is never INVALID_ARGUMENT;
- an OK answer is well-formed and agrees with the request;
- afterwards the whole ledger is consistent.
A last test sends request bytes that do not parse as the request message at
all (corrupt wire format, a string that is not UTF-8): they are hostile input
too and should be INVALID_ARGUMENT.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from tests.consistency import assert_ledger_consistent
from tests.e2e.helpers import field_violations
from tests.faults.servers import server_process
from wallet.v1 import wallet_pb2

pytestmark = pytest.mark.slow

settings.register_profile(
    "wallet-hostile-input",
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
)
PROFILE = settings.get_profile("wallet-hostile-input")

MAX_MESSAGE_BYTES = 1 << 20
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
AMOUNT_MAX = 10**15
TIMESTAMP_MIN, TIMESTAMP_MAX = -62_135_596_800, 253_402_300_799
SERVICE = "/wallet.v1.WalletService/"

VALID, INVALID, ANY = "valid", "invalid", "any"


@dataclass
class Drawn:
    """A request under test and the verdict of the pool each field was drawn from."""

    message: Message
    verdicts: dict[str, str] = field(default_factory=dict)

    def fields_in(self, verdict: str) -> set[str]:
        return {name for name, v in self.verdicts.items() if v == verdict}


# ---------------------------------------------------------------- raw protobuf


def _varint(value: int) -> bytes:
    value &= (1 << 64) - 1
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _field(number: int, wire_type: int, payload: bytes) -> bytes:
    return _varint(number << 3 | wire_type) + payload


def _payload(wire_type: int) -> st.SearchStrategy[bytes]:
    """Any well-formed payload of the wire type: varint, fixed64, length-delimited or fixed32."""
    if wire_type == 0:
        return st.integers(0, 2**64 - 1).map(_varint)
    if wire_type == 1:
        return st.binary(min_size=8, max_size=8)
    if wire_type == 2:
        return st.binary(max_size=300).map(lambda b: _varint(len(b)) + b)
    return st.binary(min_size=4, max_size=4)


@st.composite
def _unknown_field(draw: st.DrawFn, known: dict[int, int]) -> bytes:
    """A field the message does not declare (any wire type but groups), or a declared field number
    with a wire type other than its own, which parsers must keep as an unknown field."""
    if draw(st.booleans()):
        number = draw(st.one_of(st.integers(max(known) + 1, max(known) + 20), st.integers(max(known) + 1, 2**29 - 1)))
        wire_type = draw(st.sampled_from([0, 1, 2, 5]))
    else:
        number = draw(st.sampled_from(sorted(known)))
        # LEN is left out for scalar fields: parsers may read it as a packed repeated value.
        wire_type = draw(st.sampled_from([w for w in (0, 1, 5) if w != known[number]]))
    return _field(number, wire_type, draw(_payload(wire_type)))


def _unknown_fields(known: dict[int, int]) -> st.SearchStrategy[bytes]:
    return st.lists(_unknown_field(known), max_size=5).map(b"".join)


# ---------------------------------------------------------------- field pools

# Arbitrary unicode: hypothesis's text() draws any code point but surrogates
# (which UTF-8, hence protobuf, cannot carry), NUL included.
ANY_TEXT = st.one_of(
    st.text(),
    st.text(min_size=200, max_size=3_000),
    st.builds(lambda s, n: s * n, st.text(min_size=1, max_size=4), st.integers(1, 20_000)),
    st.sampled_from(["", "\x00", "a\x00b", " ", "\t", "\u202e", "\ufeff", "\u200b", "\U0001d518", "𝔘SD", "ᴜsᴅ"]),
)
ID_CHARS = st.characters(categories=["L", "N", "P", "S"])
VALID_ID = st.one_of(st.text(ID_CHARS, min_size=1, max_size=128), st.from_regex(r"cus_[a-z0-9]{1,16}", fullmatch=True))
BAD_ID_CHARACTERS = [" ", "\t", "\n", "\r", "\x00", "\x07", "\x1b", "\x7f", "\x85", "\u2028", "\u3000", "\xa0"]
INVALID_ID = st.one_of(
    st.just(""),
    st.text(ID_CHARS, min_size=129, max_size=400),
    st.builds(
        lambda head, bad, tail: head + bad + tail,
        st.text(ID_CHARS, max_size=60),
        st.sampled_from(BAD_ID_CHARACTERS),
        st.text(ID_CHARS, max_size=60),
    ),
)


Pools = dict[str, st.SearchStrategy[Any]]


def _int_edges(low: int, high: int, *extra: int) -> st.SearchStrategy[int]:
    edges = sorted({low, low + 1, -1, 0, 1, high - 1, high, *extra})
    return st.one_of(st.sampled_from([e for e in edges if low <= e <= high]), st.integers(low, high))


def _unknown_enum(first: int = 3) -> st.SearchStrategy[int]:
    """Enum numbers from `first` (the first one not valid here) up to the int32 edges, and negative ones."""
    return st.one_of(_int_edges(first, INT32_MAX, first + 1, 100), _int_edges(INT32_MIN, -1))


NO_NUL = st.characters(codec="utf-8", exclude_characters="\x00")
TEXT_WITH_NUL = st.builds(lambda a, b: a + "\x00" + b, st.text(max_size=50), st.text(max_size=50))
CUSTOMER_ID: Pools = {VALID: VALID_ID, INVALID: INVALID_ID, ANY: ANY_TEXT}


def _text_rule(length_max: int) -> Pools:
    """A free-text field: at most `length_max` characters, no NUL."""
    return {
        VALID: st.one_of(
            st.text(NO_NUL, max_size=length_max),
            st.builds(lambda s: (s * length_max)[:length_max], st.text(NO_NUL, min_size=1, max_size=3)),
        ),
        INVALID: st.one_of(
            TEXT_WITH_NUL.filter(lambda s: len(s) <= length_max),
            st.builds(lambda s, n: s * (length_max + n), st.text(NO_NUL, min_size=1, max_size=1), st.integers(1, 50)),
        ),
        ANY: ANY_TEXT,
    }


METADATA_KEY = st.text(NO_NUL, min_size=1, max_size=40)
METADATA: Pools = {
    VALID: st.dictionaries(METADATA_KEY, st.text(NO_NUL, max_size=500), max_size=50),
    INVALID: st.one_of(
        st.integers(51, 60).map(lambda n: {f"k{i}": "v" for i in range(n)}),
        st.sampled_from(["", "k" * 41, "k\x00"]).map(lambda key: {key: "v"}),
        st.sampled_from(["v" * 501, "v\x00"]).map(lambda value: {"k": value}),
    ),
    ANY: st.dictionaries(ANY_TEXT, ANY_TEXT, max_size=8),
}


def _timestamp_pools() -> Pools:
    in_range = st.builds(
        lambda s, n: Timestamp(seconds=s, nanos=n),
        _int_edges(TIMESTAMP_MIN, TIMESTAMP_MAX, 0, 1_700_000_000, 4_102_444_800),
        _int_edges(0, 999_999_999),
    )
    out_of_range = st.one_of(
        st.builds(
            lambda s, n: Timestamp(seconds=s, nanos=n),
            st.one_of(_int_edges(INT64_MIN, TIMESTAMP_MIN - 1), _int_edges(TIMESTAMP_MAX + 1, INT64_MAX)),
            st.integers(0, 999_999_999),
        ),
        st.builds(
            lambda s, n: Timestamp(seconds=s, nanos=n),
            st.integers(TIMESTAMP_MIN, TIMESTAMP_MAX),
            st.one_of(_int_edges(INT32_MIN, -1), _int_edges(1_000_000_000, INT32_MAX)),
        ),
    )
    return {VALID: st.one_of(st.none(), in_range), INVALID: out_of_range}


def _draw_fields(draw: st.DrawFn, spec: dict[str, Pools]) -> dict[str, tuple[str, Any]]:
    """(verdict, value) per field. A third of the requests are valid in every field, a third break
    (or fuzz) exactly one field, and a third draw every field from any of its pools, so that each
    field is seen refused alone, next to other bad fields, and accepted."""
    mode = draw(st.sampled_from(["all valid", "one field", "every field"]))
    target = draw(st.sampled_from(sorted(spec)))
    fields: dict[str, tuple[str, Any]] = {}
    for name, pools in spec.items():
        if mode == "all valid" or (mode == "one field" and name != target):
            verdicts = [VALID]
        elif mode == "one field":
            verdicts = [v for v in pools if v != VALID] or [VALID]
        else:
            verdicts = list(pools)
        verdict = draw(st.sampled_from(verdicts))
        fields[name] = (verdict, draw(pools[verdict]))
    return fields


@st.composite
def get_balances_requests(draw: st.DrawFn) -> Drawn:
    fields = _draw_fields(draw, {"customer_id": CUSTOMER_ID})
    return Drawn(
        wallet_pb2.GetBalancesRequest(customer_id=fields["customer_id"][1]),
        {name: verdict for name, (verdict, _) in fields.items()},
    )


@st.composite
def create_requests(draw: st.DrawFn) -> Drawn:
    fields = _draw_fields(
        draw,
        {
            "customer_id": CUSTOMER_ID,
            "amount": {
                VALID: _int_edges(1, AMOUNT_MAX),
                INVALID: st.one_of(_int_edges(INT64_MIN, 0), _int_edges(AMOUNT_MAX + 1, INT64_MAX)),
            },
            "currency": {
                VALID: st.sampled_from(["USD", "INR"]),
                INVALID: st.one_of(
                    st.sampled_from(["", "EUR", "JPY", "usd", "US", "USDX", "U\x00D", "ＵＳＤ"]),
                    ANY_TEXT.filter(lambda s: s not in ("USD", "INR")),
                ),
            },
            "entry_type": {
                VALID: st.sampled_from([wallet_pb2.ENTRY_TYPE_CREDIT, wallet_pb2.ENTRY_TYPE_DEBIT]),
                INVALID: st.one_of(st.just(0), _unknown_enum()),
            },
            "reason": _text_rule(1_000),
            "idempotency_key": _text_rule(255),
            "metadata": METADATA,
        },
    )
    message = wallet_pb2.CreateLedgerEntryRequest(
        **{name: value for name, (_, value) in fields.items() if name != "metadata"}
    )
    message.metadata.update(fields["metadata"][1])
    return Drawn(message, {name: verdict for name, (verdict, _) in fields.items()})


@st.composite
def list_requests(draw: st.DrawFn) -> Drawn:
    fields = _draw_fields(
        draw,
        {
            "customer_id": CUSTOMER_ID,
            "currency": {
                VALID: st.sampled_from(["", "USD", "INR"]),
                INVALID: st.sampled_from(["EUR", "usd", "U$D", "\x00"]),
            },
            # A history filter may name every declared type, expirations included.
            "entry_type": {VALID: st.sampled_from([0, 1, 2, 3]), INVALID: _unknown_enum(4)},
            "created_after": _timestamp_pools(),
            "created_before": _timestamp_pools(),
            "start_after_id": {
                VALID: st.just(""),
                INVALID: st.sampled_from(["x" * 65, "le_ 1", "le_\x00", "le_\u2028"]),
                ANY: ANY_TEXT,
            },
            "limit": {VALID: _int_edges(0, INT32_MAX), INVALID: _int_edges(INT32_MIN, -1)},
            "newest_first": {VALID: st.booleans()},
        },
    )
    verdicts = {name: verdict for name, (verdict, _) in fields.items()}
    message = wallet_pb2.ListLedgerEntriesRequest(
        **{name: value for name, (_, value) in fields.items() if value is not None}
    )
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


@pytest.fixture(scope="module")
def channel(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[grpc.Channel]:
    log = Path(tmp_path_factory.mktemp("hostile")) / "server.log"
    with (
        server_process(database_url, log, WALLET_MAX_MESSAGE_BYTES=str(MAX_MESSAGE_BYTES)) as server,
        grpc.insecure_channel(server.address) as channel,
    ):
        yield channel


def _call(channel: grpc.Channel, method: str, payload: bytes) -> tuple[grpc.StatusCode, list[bytes], Any]:
    """Sends raw request bytes; returns the status code, the raw responses and the error (if any)."""
    try:
        if method == "ListLedgerEntries":
            stream = channel.unary_stream(SERVICE + method, request_serializer=None, response_deserializer=None)
            return grpc.StatusCode.OK, list(stream(payload, timeout=30)), None
        unary = channel.unary_unary(SERVICE + method, request_serializer=None, response_deserializer=None)
        return grpc.StatusCode.OK, [unary(payload, timeout=30)], None
    except grpc.RpcError as error:
        return error.code(), [], error


BUSINESS_REFUSALS = {
    "GetBalances": set(),
    "CreateLedgerEntry": {grpc.StatusCode.FAILED_PRECONDITION, grpc.StatusCode.ALREADY_EXISTS},
    "ListLedgerEntries": set(),
}


def _check_answer(
    channel: grpc.Channel,
    method: str,
    drawn: Drawn,
    unknown: bytes,
    check_ok: Callable[[Any, list[bytes]], None],
) -> None:
    payload = drawn.message.SerializeToString() + unknown
    code, responses, error = _call(channel, method, payload)
    details = error.details() if error is not None else ""
    verdicts = {drawn.fields_in(v) != set() and v for v in (VALID, INVALID, ANY)} - {False}
    event(f"{code.name} for a request with {'/'.join(sorted(str(v) for v in verdicts))} fields")
    assert code not in (grpc.StatusCode.UNKNOWN, grpc.StatusCode.INTERNAL), (code, details, drawn.verdicts)
    if len(payload) > MAX_MESSAGE_BYTES:
        assert code == grpc.StatusCode.RESOURCE_EXHAUSTED, (code, details, len(payload))
        return
    allowed = {grpc.StatusCode.OK, grpc.StatusCode.INVALID_ARGUMENT} | BUSINESS_REFUSALS[method]
    assert code in allowed, (code, details, drawn.verdicts)
    invalid, valid = drawn.fields_in(INVALID), drawn.fields_in(VALID)
    if code == grpc.StatusCode.INVALID_ARGUMENT:
        named = set(field_violations(error))
        assert named, "INVALID_ARGUMENT names no field"
        assert invalid <= named, (invalid - named, named, details)
        assert not (named & valid), (named & valid, drawn.verdicts, details)
        return
    assert not invalid, (f"{code.name} for a request with invalid {sorted(invalid)}", drawn.verdicts)
    if code == grpc.StatusCode.OK:
        check_ok(drawn.message, responses)


def _balances_ok(request: Any, responses: list[bytes]) -> None:
    response = wallet_pb2.GetBalancesResponse.FromString(responses[0])
    assert response.customer_id == request.customer_id
    currencies = [w.currency for w in response.wallets]
    assert currencies == sorted(currencies) and {"USD", "INR"} <= set(currencies)
    assert all(w.balance >= 0 and w.customer_id == request.customer_id for w in response.wallets)


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


def _known_fields(message: Any) -> dict[int, int]:
    """Field number -> wire type of every field the contract declares (never hand-copied, so never stale)."""
    length_delimited = (FieldDescriptor.TYPE_STRING, FieldDescriptor.TYPE_MESSAGE, FieldDescriptor.TYPE_BYTES)
    return {f.number: 2 if f.type in length_delimited else 0 for f in message.DESCRIPTOR.fields}


GET_BALANCES_FIELDS = _known_fields(wallet_pb2.GetBalancesRequest)
CREATE_FIELDS = _known_fields(wallet_pb2.CreateLedgerEntryRequest)
LIST_FIELDS = _known_fields(wallet_pb2.ListLedgerEntriesRequest)


def test_get_balances_answers_any_request_with_invalid_argument_or_a_valid_result(
    channel: grpc.Channel, database_url: str
) -> None:
    @PROFILE
    @given(drawn=get_balances_requests(), unknown=_unknown_fields(GET_BALANCES_FIELDS))
    def examples(drawn: Drawn, unknown: bytes) -> None:
        _check_answer(channel, "GetBalances", drawn, unknown, _balances_ok)

    examples()
    assert_ledger_consistent(database_url)


def test_create_ledger_entry_answers_any_request_with_invalid_argument_a_refusal_or_a_valid_entry(
    channel: grpc.Channel, database_url: str
) -> None:
    @PROFILE
    @given(drawn=create_requests(), unknown=_unknown_fields(CREATE_FIELDS))
    def examples(drawn: Drawn, unknown: bytes) -> None:
        _check_answer(channel, "CreateLedgerEntry", drawn, unknown, _create_ok)

    examples()
    assert_ledger_consistent(database_url)


def test_list_ledger_entries_answers_any_request_with_invalid_argument_or_a_valid_stream(
    channel: grpc.Channel, database_url: str
) -> None:
    @PROFILE
    @given(drawn=list_requests(), unknown=_unknown_fields(LIST_FIELDS))
    def examples(drawn: Drawn, unknown: bytes) -> None:
        _check_answer(channel, "ListLedgerEntries", drawn, unknown, _list_ok)

    examples()
    assert_ledger_consistent(database_url)


UNDECODABLE = {
    "a string field that is not UTF-8": _field(1, 2, _varint(3) + b"\xff\xfe\xfd"),
    "a length running past the end": _field(1, 2, _varint(100) + b"cus"),
    "a truncated varint": b"\x10\xff\xff",
    "an unterminated group": b"\x0b",
    "bytes that are no protobuf": b"\xff" * 16,
}


@pytest.mark.parametrize("method", ["GetBalances", "CreateLedgerEntry", "ListLedgerEntries"])
def test_request_bytes_that_do_not_parse_are_refused_with_invalid_argument(channel: grpc.Channel, method: str) -> None:
    answers = {}
    for name, body in UNDECODABLE.items():
        code, _, error = _call(channel, method, body)
        answers[name] = (code.name, error.details() if error else "")
    assert all(code == "INVALID_ARGUMENT" for code, _ in answers.values()), answers


def test_the_server_keeps_serving_after_request_bytes_that_do_not_parse(
    channel: grpc.Channel, database_url: str
) -> None:
    for body in UNDECODABLE.values():
        for method in ("GetBalances", "CreateLedgerEntry", "ListLedgerEntries"):
            code, _, _ = _call(channel, method, body)
            assert code != grpc.StatusCode.OK
    request = wallet_pb2.GetBalancesRequest(customer_id="cus_after_garbage")
    code, responses, _ = _call(channel, "GetBalances", request.SerializeToString())
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
    _, responses, _ = _call(channel, "CreateLedgerEntry", create.SerializeToString())
    created_at = wallet_pb2.CreateLedgerEntryResponse.FromString(responses[0]).entry.created_at

    def listed(**window: Timestamp) -> int:
        request = wallet_pb2.ListLedgerEntriesRequest(customer_id=customer_id)
        for name, value in window.items():
            getattr(request, name).CopyFrom(value)
        code, raw, _ = _call(channel, "ListLedgerEntries", request.SerializeToString())
        assert code == grpc.StatusCode.OK
        return sum(len(wallet_pb2.ListLedgerEntriesResponse.FromString(r).entries) for r in raw)

    assert listed(created_after=created_at) == 1
    assert listed(created_before=created_at) == 0
    assert listed(created_after=_shifted(created_at, 1)) == 0
    assert listed(created_before=_shifted(created_at, 1)) == 1
