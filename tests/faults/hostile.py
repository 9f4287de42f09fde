"""The machinery of the hostile-input tests: field pools, raw protobuf, the server, and the properties.

A test module builds requests field by field with `draw_fields`: each field's
value comes from one of three pools, and the test knows which: clearly valid
(VALID), clearly invalid (INVALID: breaking a rule that wallet.proto
documents), or anything (ANY: arbitrary unicode including NUL, very long
strings, integers at and beyond the edges of their type, unknown enum numbers,
out-of-range timestamps). The request is serialized, `unknown_fields` are
appended as raw bytes, and `check_answer` sends it through a generic
`channel.unary_unary` (or `unary_stream`) with identity serializers to a real
server process (`hostile_server`) and asserts the properties:
- the status is OK, INVALID_ARGUMENT, or a business refusal of the RPC
  (`BUSINESS_REFUSALS`, with its ErrorInfo reason); RESOURCE_EXHAUSTED only for
  a request above the server's maximum message size; never UNKNOWN or INTERNAL;
- INVALID_ARGUMENT carries a BadRequest that names every field drawn from the
  invalid pool, none drawn from the valid pool and nothing the request does
  not declare; a request made only of valid fields is never INVALID_ARGUMENT;
- a request made only of valid fields gets one of the answers the case
  expects (`Drawn.outcomes`), when the case knows them;
- an OK answer is well-formed and agrees with the request (`check_ok`).
No test lives here.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp
from hypothesis import HealthCheck, currently_in_test_context, event, settings
from hypothesis import strategies as st

from tests.e2e.helpers import error_info, field_violations
from tests.faults.servers import server_process
from wallet.v1 import wallet_pb2

EXAMPLES = 100
settings.register_profile(
    "wallet-hostile-input",
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    # The same examples on every run: a failure here is reproducible, not a roll of the dice.
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
)
PROFILE = settings.get_profile("wallet-hostile-input")

MAX_MESSAGE_BYTES = 1 << 20
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
AMOUNT_MAX = 10**15
TIMESTAMP_MIN, TIMESTAMP_MAX = -62_135_596_800, 253_402_300_799
SERVICE = "/wallet.v1.WalletService/"
STREAMING_METHODS = {"ListLedgerEntries"}

VALID, INVALID, ANY = "valid", "invalid", "any"

Outcome = tuple[grpc.StatusCode, str]
"""A status code and its ErrorInfo reason ("" for OK)."""
OK: Outcome = (grpc.StatusCode.OK, "")


@dataclass
class Drawn:
    """A request under test and the verdict of the pool each field was drawn from.

    `outcomes`, when set, are the only answers a request valid in every field may get.
    """

    message: Message
    verdicts: dict[str, str] = field(default_factory=dict)
    outcomes: frozenset[Outcome] | None = None

    def fields_in(self, verdict: str) -> set[str]:
        return {name for name, v in self.verdicts.items() if v == verdict}


# ---------------------------------------------------------------- raw protobuf


def varint(value: int) -> bytes:
    value &= (1 << 64) - 1
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def raw_field(number: int, wire_type: int, payload: bytes) -> bytes:
    return varint(number << 3 | wire_type) + payload


def _payload(wire_type: int) -> st.SearchStrategy[bytes]:
    """Any well-formed payload of the wire type: varint, fixed64, length-delimited or fixed32."""
    if wire_type == 0:
        return st.integers(0, 2**64 - 1).map(varint)
    if wire_type == 1:
        return st.binary(min_size=8, max_size=8)
    if wire_type == 2:
        return st.binary(max_size=300).map(lambda b: varint(len(b)) + b)
    return st.binary(min_size=4, max_size=4)


@st.composite
def _unknown_field(draw: st.DrawFn, known: dict[int, int]) -> bytes:
    """A field the message does not declare (any wire type but groups), or a declared field number
    with a wire type other than its own, which parsers must keep as an unknown field."""
    if not known or draw(st.booleans()):
        last = max(known, default=0)  # a message without fields (GetCallerInfoRequest) has only undeclared ones
        number = draw(st.one_of(st.integers(last + 1, last + 20), st.integers(last + 1, 2**29 - 1)))
        wire_type = draw(st.sampled_from([0, 1, 2, 5]))
    else:
        number = draw(st.sampled_from(sorted(known)))
        # LEN is left out for scalar fields: parsers may read it as a packed repeated value.
        wire_type = draw(st.sampled_from([w for w in (0, 1, 5) if w != known[number]]))
    return raw_field(number, wire_type, draw(_payload(wire_type)))


def unknown_fields(known: dict[int, int]) -> st.SearchStrategy[bytes]:
    """Up to five unknown fields (see `_unknown_field`), as raw bytes to append to a message."""
    return st.lists(_unknown_field(known), max_size=5).map(b"".join)


def known_fields(message: Any) -> dict[int, int]:
    """Field number -> wire type of every field the contract declares (never hand-copied, so never stale)."""
    length_delimited = (FieldDescriptor.TYPE_STRING, FieldDescriptor.TYPE_MESSAGE, FieldDescriptor.TYPE_BYTES)
    return {f.number: 2 if f.type in length_delimited else 0 for f in message.DESCRIPTOR.fields}


# Request bodies that do not parse as the request message at all: hostile input too.
UNDECODABLE = {
    "a string field that is not UTF-8": raw_field(1, 2, varint(3) + b"\xff\xfe\xfd"),
    "a length running past the end": raw_field(1, 2, varint(100) + b"cus"),
    "a truncated varint": b"\x10\xff\xff",
    "an unterminated group": b"\x0b",
    "bytes that are no protobuf": b"\xff" * 16,
}


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


def int_edges(low: int, high: int, *extra: int) -> st.SearchStrategy[int]:
    """Integers of [low, high], the edges (and `extra`) often."""
    edges = sorted({low, low + 1, -1, 0, 1, high - 1, high, *extra})
    return st.one_of(st.sampled_from([e for e in edges if low <= e <= high]), st.integers(low, high))


def unknown_enum(first: int = 3) -> st.SearchStrategy[int]:
    """Enum numbers from `first` (the first one not valid here) up to the int32 edges, and negative ones."""
    return st.one_of(int_edges(first, INT32_MAX, first + 1, 100), int_edges(INT32_MIN, -1))


NO_NUL = st.characters(codec="utf-8", exclude_characters="\x00")
TEXT_WITH_NUL = st.builds(lambda a, b: a + "\x00" + b, st.text(max_size=50), st.text(max_size=50))
CUSTOMER_ID: Pools = {VALID: VALID_ID, INVALID: INVALID_ID, ANY: ANY_TEXT}
AMOUNT: Pools = {
    VALID: int_edges(1, AMOUNT_MAX),
    INVALID: st.one_of(int_edges(INT64_MIN, 0), int_edges(AMOUNT_MAX + 1, INT64_MAX)),
}
CURRENCY: Pools = {
    VALID: st.sampled_from(["USD", "INR"]),
    INVALID: st.one_of(
        st.sampled_from(["", "EUR", "JPY", "usd", "US", "USDX", "U\x00D", "ＵＳＤ"]),
        ANY_TEXT.filter(lambda s: s not in ("USD", "INR")),
    ),
}
# An optional currency filter: empty means every currency.
CURRENCY_FILTER: Pools = {
    VALID: st.sampled_from(["", "USD", "INR"]),
    INVALID: st.sampled_from(["EUR", "usd", "U$D", "\x00"]),
}


def text_rule(length_max: int) -> Pools:
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

TIMESTAMP_IN_RANGE = st.builds(
    lambda s, n: Timestamp(seconds=s, nanos=n),
    int_edges(TIMESTAMP_MIN, TIMESTAMP_MAX, 0, 1_700_000_000, 4_102_444_800),
    int_edges(0, 999_999_999),
)
# Timestamps google.protobuf.Timestamp forbids: seconds beyond year 1..9999, or nanos outside 0..999,999,999.
TIMESTAMP_OUT_OF_RANGE = st.one_of(
    st.builds(
        lambda s, n: Timestamp(seconds=s, nanos=n),
        st.one_of(int_edges(INT64_MIN, TIMESTAMP_MIN - 1), int_edges(TIMESTAMP_MAX + 1, INT64_MAX)),
        st.integers(0, 999_999_999),
    ),
    st.builds(
        lambda s, n: Timestamp(seconds=s, nanos=n),
        st.integers(TIMESTAMP_MIN, TIMESTAMP_MAX),
        st.one_of(int_edges(INT32_MIN, -1), int_edges(1_000_000_000, INT32_MAX)),
    ),
)


def timestamp_pools() -> Pools:
    """An optional Timestamp field with no rule but Timestamp's own range (None: unset)."""
    return {VALID: st.one_of(st.none(), TIMESTAMP_IN_RANGE), INVALID: TIMESTAMP_OUT_OF_RANGE}


def in_timestamp_range(value: Timestamp) -> bool:
    return TIMESTAMP_MIN <= value.seconds <= TIMESTAMP_MAX and 0 <= value.nanos < 10**9


def draw_fields(draw: st.DrawFn, spec: dict[str, Pools]) -> dict[str, tuple[str, Any]]:
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


def verdicts_of(fields: dict[str, tuple[str, Any]]) -> dict[str, str]:
    return {name: verdict for name, (verdict, _) in fields.items()}


def values_of(fields: dict[str, tuple[str, Any]], *leave_out: str) -> dict[str, Any]:
    """The drawn values as message constructor arguments: unset (None) ones and `leave_out` left out."""
    return {name: value for name, (_, value) in fields.items() if value is not None and name not in leave_out}


# ---------------------------------------------------------------- the server


@contextlib.contextmanager
def hostile_server(database_url: str, log_dir: Path) -> Iterator[grpc.Channel]:
    """A channel to a real server process with a 1 MiB maximum message size (its log in `log_dir`)."""
    with (
        server_process(database_url, log_dir / "server.log", WALLET_MAX_MESSAGE_BYTES=str(MAX_MESSAGE_BYTES)) as server,
        grpc.insecure_channel(server.address) as channel,
    ):
        yield channel


def call(channel: grpc.Channel, method: str, payload: bytes) -> tuple[grpc.StatusCode, list[bytes], Any]:
    """Sends raw request bytes; returns the status code, the raw responses and the error (if any)."""
    try:
        if method in STREAMING_METHODS:
            stream = channel.unary_stream(SERVICE + method, request_serializer=None, response_deserializer=None)
            return grpc.StatusCode.OK, list(stream(payload, timeout=30)), None
        unary = channel.unary_unary(SERVICE + method, request_serializer=None, response_deserializer=None)
        return grpc.StatusCode.OK, [unary(payload, timeout=30)], None
    except grpc.RpcError as error:
        return error.code(), [], error


_FAILED_PRECONDITION = grpc.StatusCode.FAILED_PRECONDITION
_KEY_REUSED = {grpc.StatusCode.ALREADY_EXISTS: {"IDEMPOTENCY_KEY_REUSED"}}
# The refusals each RPC may answer a well-formed request with, by status code and ErrorInfo reason.
BUSINESS_REFUSALS: dict[str, dict[grpc.StatusCode, set[str]]] = {
    "GetBalances": {},
    "CreateLedgerEntry": {_FAILED_PRECONDITION: {"INSUFFICIENT_WALLET_FUNDS", "BALANCE_OVERFLOW"}, **_KEY_REUSED},
    "ListLedgerEntries": {},
    "CreateHold": {_FAILED_PRECONDITION: {"INSUFFICIENT_WALLET_FUNDS"}, **_KEY_REUSED},
    "CaptureHold": {
        _FAILED_PRECONDITION: {"HOLD_NOT_ACTIVE", "CAPTURE_EXCEEDS_HOLD"},
        grpc.StatusCode.NOT_FOUND: {"HOLD_NOT_FOUND"},
    },
    "ReleaseHold": {_FAILED_PRECONDITION: {"HOLD_NOT_ACTIVE"}, grpc.StatusCode.NOT_FOUND: {"HOLD_NOT_FOUND"}},
    "GetHold": {grpc.StatusCode.NOT_FOUND: {"HOLD_NOT_FOUND"}},
    "ListHolds": {},
    "SummarizeLedger": {},
    "SetLowBalanceThreshold": {},
    "GetCallerInfo": {},
    "ReverseLedgerEntry": {
        _FAILED_PRECONDITION: {"REVERSAL_EXCEEDS_ENTRY", "ENTRY_NOT_REVERSIBLE", "BALANCE_OVERFLOW"},
        grpc.StatusCode.NOT_FOUND: {"ENTRY_NOT_FOUND"},
        **_KEY_REUSED,
    },
}


def check_answer(
    channel: grpc.Channel,
    method: str,
    drawn: Drawn,
    unknown: bytes,
    check_ok: Callable[[Any, list[bytes]], None],
) -> Outcome:
    """Sends the request (with `unknown` appended) and asserts the properties; returns the answer."""
    payload = drawn.message.SerializeToString() + unknown
    code, responses, error = call(channel, method, payload)
    details = error.details() if error is not None else ""
    verdicts = {drawn.fields_in(v) != set() and v for v in (VALID, INVALID, ANY)} - {False}
    if currently_in_test_context():  # check_answer also serves plain tests
        event(f"{code.name} for a request with {'/'.join(sorted(str(v) for v in verdicts))} fields")
    assert code not in (grpc.StatusCode.UNKNOWN, grpc.StatusCode.INTERNAL), (code, details, drawn.verdicts)
    if len(payload) > MAX_MESSAGE_BYTES:
        assert code == grpc.StatusCode.RESOURCE_EXHAUSTED, (code, details, len(payload))
        return code, ""
    refusals = BUSINESS_REFUSALS[method]
    allowed = {grpc.StatusCode.OK, grpc.StatusCode.INVALID_ARGUMENT} | set(refusals)
    assert code in allowed, (code, details, drawn.verdicts)
    reason = error_info(error).reason if error is not None else ""
    assert code not in refusals or reason in refusals[code], (code, reason, details)
    invalid, valid = drawn.fields_in(INVALID), drawn.fields_in(VALID)
    if code == grpc.StatusCode.INVALID_ARGUMENT:
        named = set(field_violations(error))
        assert named, "INVALID_ARGUMENT names no field"
        assert invalid <= named, (invalid - named, named, details)
        assert not (named & valid), (named & valid, drawn.verdicts, details)
        assert named <= set(drawn.verdicts), (named - set(drawn.verdicts), "names no field of the request", details)
        return code, reason
    assert not invalid, (f"{code.name} for a request with invalid {sorted(invalid)}", drawn.verdicts)
    if drawn.outcomes is not None and valid == set(drawn.verdicts):
        assert (code, reason) in drawn.outcomes, ((code, reason), drawn.outcomes, details)
    if code == grpc.StatusCode.OK:
        check_ok(drawn.message, responses)
    return code, reason


# ---------------------------------------------------------------- well-formed answers


def check_wallet(wallet: Any, customer_id: str, currency: str) -> None:
    """A wallet of the customer in the currency, its balances agreeing with each other."""
    assert (wallet.customer_id, wallet.currency) == (customer_id, currency), wallet
    assert 0 <= wallet.held_balance <= wallet.balance, wallet
    assert wallet.available_balance == wallet.balance - wallet.held_balance >= 0, wallet


def micros(value: Timestamp) -> int:
    return value.seconds * 1_000_000 + value.nanos // 1_000


def micros_up(value: Timestamp) -> int:
    """A Timestamp to the microsecond, rounded up (as the server stores a time it is given)."""
    return value.seconds * 1_000_000 + -(-value.nanos // 1_000)


def balances_ok(request: Any, responses: list[bytes]) -> None:
    """A GetBalances answer: the customer's wallets, by currency, every supported one included."""
    response = wallet_pb2.GetBalancesResponse.FromString(responses[0])
    assert response.customer_id == request.customer_id
    currencies = [w.currency for w in response.wallets]
    assert currencies == sorted(currencies) and {"USD", "INR"} <= set(currencies)
    for wallet in response.wallets:
        check_wallet(wallet, request.customer_id, wallet.currency)


# ---------------------------------------------------------------- the registry's entries

REFUSED: Outcome = (grpc.StatusCode.INVALID_ARGUMENT, "INVALID_ARGUMENT")
INSUFFICIENT: Outcome = (grpc.StatusCode.FAILED_PRECONDITION, "INSUFFICIENT_WALLET_FUNDS")
CheckOk = Callable[[Any, list[bytes]], None]


@dataclass(frozen=True)
class Attempt:
    """One drawn request, what to put in place just before it is sent, and how to check an OK answer.

    `kind` names what sort of request it was when the case tracks its outcomes by sort ("" otherwise).
    """

    drawn: Drawn
    check_ok: CheckOk
    prepare: Callable[[], None] | None = None
    kind: str = ""


@dataclass(frozen=True)
class RpcCase:
    """An RPC under hostile input: how to draw its attempts and which outcomes a run must reach.

    `attempts` gets the module's `Setup` (tests.faults.hostile_holds), which puts holds in place.
    `reached` holds (kind, outcome) pairs: a run that never met one of them fails, so that no
    property holds only because its case never came up. `always` are attempts tried on every run.
    """

    name: str
    method: str
    request_type: Any
    attempts: Callable[[Any], st.SearchStrategy[Attempt]]
    reached: frozenset[tuple[str, Outcome]]
    max_examples: int = EXAMPLES
    always: tuple[Attempt, ...] = ()


def reaching(*outcomes: Outcome, kind: str = "") -> frozenset[tuple[str, Outcome]]:
    return frozenset((kind, outcome) for outcome in outcomes)


def plain(strategy: st.SearchStrategy[Drawn], check_ok: CheckOk) -> st.SearchStrategy[Attempt]:
    """Attempts of drawn requests that need nothing put in place."""
    return strategy.map(lambda drawn: Attempt(drawn, check_ok))
