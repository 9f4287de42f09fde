"""The hostile-input cases of the hold RPCs (the registry is tests.faults.hostile_cases, the machinery
tests.faults.hostile): CreateHold, CaptureHold, ReleaseHold, GetHold and ListHolds.

A request valid in every field gets exactly the answer its case calls for. A valid hold_id names a
target put in place just before the call, for the request's customer: an active hold, one captured,
released or expired, another customer's hold, or an id that is no hold. So a capture of at most an
active hold's amount succeeds and one of more is CAPTURE_EXCEEDS_HOLD, repeating the capture or the
release that closed a hold replays it, a closed hold is HOLD_NOT_ACTIVE, an unknown or foreign one
HOLD_NOT_FOUND; a hold on a wallet just credited with its amount succeeds. An OK answer is sensible:
the hold echoes the request (amount, currency, reason, metadata, ttl), is in the status the call
leaves it in, and the wallet keeps available_balance = balance - held_balance >= 0; a capture's
debit entry spends what was captured; a page of holds is filtered, newest first, at most page_size
long and past its page_token.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta, timezone
from typing import Any

import grpc
from google.protobuf.duration_pb2 import Duration
from hypothesis import strategies as st

from tests.faults.hostile import (
    AMOUNT,
    AMOUNT_MAX,
    ANY,
    ANY_TEXT,
    BAD_ID_CHARACTERS,
    CURRENCY,
    CURRENCY_FILTER,
    CUSTOMER_ID,
    INSUFFICIENT,
    INT32_MAX,
    INT32_MIN,
    INT64_MAX,
    INT64_MIN,
    INVALID,
    METADATA,
    OK,
    REFUSED,
    VALID,
    VALID_ID,
    Attempt,
    Drawn,
    Outcome,
    Pools,
    RpcCase,
    check_wallet,
    draw_fields,
    int_edges,
    micros,
    plain,
    reaching,
    text_rule,
    unknown_enum,
    values_of,
    verdicts_of,
)
from tests.waiting import eventually_blocking
from wallet.v1 import wallet_pb2, wallet_pb2_grpc

HOLD_METHODS = ["CreateHold", "CaptureHold", "ReleaseHold", "GetHold", "ListHolds"]
HOLD_TTL_DEFAULT_MS = 15 * 60 * 1_000
HOLD_TTL_MAX_S = 7 * 86_400
HOLD_ID_LENGTH_MAX = 64
PAGE_SIZE_DEFAULT, PAGE_SIZE_MAX = 100, 1_000
# The customer whose holds are "another customer's" and whose holds ListHolds pages through.
OWNER = "cus_hostile_holds_owner"
# The hold_id a request carries until the test puts its target in place.
TARGET_ID = "<target>"

NOT_FOUND: Outcome = (grpc.StatusCode.NOT_FOUND, "HOLD_NOT_FOUND")
NOT_ACTIVE: Outcome = (grpc.StatusCode.FAILED_PRECONDITION, "HOLD_NOT_ACTIVE")
EXCEEDS: Outcome = (grpc.StatusCode.FAILED_PRECONDITION, "CAPTURE_EXCEEDS_HOLD")
KEY_REUSED: Outcome = (grpc.StatusCode.ALREADY_EXISTS, "IDEMPOTENCY_KEY_REUSED")

ACTIVE, CAPTURED, RELEASED, EXPIRED = "active", "captured", "released", "expired"
UNKNOWN, FOREIGN = "unknown", "foreign"
CLOSED = [CAPTURED, RELEASED, EXPIRED]
STATUS = {
    ACTIVE: wallet_pb2.HOLD_STATUS_ACTIVE,
    CAPTURED: wallet_pb2.HOLD_STATUS_CAPTURED,
    RELEASED: wallet_pb2.HOLD_STATUS_RELEASED,
    EXPIRED: wallet_pb2.HOLD_STATUS_EXPIRED,
}
TARGET_METADATA = {"order": "o-1", "k": "from the hold"}


# ---------------------------------------------------------------- targets: holds put in place for a request


@dataclass(frozen=True)
class Target:
    """The hold a request's valid hold_id names: one in `state` of `amount` in `currency`, put in
    place for the request's customer; another customer's (FOREIGN); or `unknown_id`, no hold (UNKNOWN)."""

    state: str
    currency: str
    amount: int
    unknown_id: str


# Any 1-64 characters are a well-formed hold id: whitespace, control characters and NUL included.
SHAPELY_HOLD_ID = st.one_of(
    st.text(min_size=1, max_size=HOLD_ID_LENGTH_MAX),
    st.from_regex(r"hd_[0-9a-f]{32}", fullmatch=True),
    st.builds(
        lambda head, bad, tail: (head + bad + tail)[:HOLD_ID_LENGTH_MAX],
        st.text(max_size=30),
        st.sampled_from(BAD_ID_CHARACTERS),
        st.text(max_size=30),
    ),
)
TARGETS = st.builds(
    Target,
    st.sampled_from([ACTIVE, ACTIVE, CAPTURED, RELEASED, EXPIRED, UNKNOWN, FOREIGN]),
    st.sampled_from(["USD", "INR"]),
    int_edges(1, AMOUNT_MAX),
    SHAPELY_HOLD_ID,
)


class Setup:
    """Plain typed calls that put targets in place; they must all succeed."""

    def __init__(self, channel: grpc.Channel) -> None:
        self.stub = wallet_pb2_grpc.WalletServiceStub(channel)
        self.owned: dict[str, wallet_pb2.Hold] = {}
        self._pages: dict[str, tuple[int, str]] | None = None

    def fund(self, customer_id: str, currency: str, amount: int) -> None:
        self.stub.CreateLedgerEntry(
            wallet_pb2.CreateLedgerEntryRequest(
                customer_id=customer_id,
                currency=currency,
                amount=amount,
                entry_type=wallet_pb2.ENTRY_TYPE_CREDIT,
                reason="hostile-holds funding",
            ),
            timeout=30,
        )

    def hold(self, customer_id: str, currency: str, amount: int, state: str) -> wallet_pb2.Hold:
        """A hold of the customer, funded first, then left in `state`."""
        self.fund(customer_id, currency, amount)
        request = wallet_pb2.CreateHoldRequest(
            customer_id=customer_id, currency=currency, amount=amount, reason="target", metadata=TARGET_METADATA
        )
        if state == EXPIRED:
            request.ttl.CopyFrom(Duration(nanos=1_000_000))
        hold: wallet_pb2.Hold = self.stub.CreateHold(request, timeout=30).hold
        if state == CAPTURED:
            capture = wallet_pb2.CaptureHoldRequest(customer_id=customer_id, hold_id=hold.id)
            self.stub.CaptureHold(capture, timeout=30)
        elif state == RELEASED:
            self.stub.ReleaseHold(wallet_pb2.ReleaseHoldRequest(customer_id=customer_id, hold_id=hold.id), timeout=30)
        elif state == EXPIRED:
            # Real time (a server process has its own clock): past its 1 ms ttl, a read settles it as expired.
            get = wallet_pb2.GetHoldRequest(customer_id=customer_id, hold_id=hold.id)
            eventually_blocking(
                lambda: self.stub.GetHold(get, timeout=30).hold.status == wallet_pb2.HOLD_STATUS_EXPIRED,
                30,
                "the 1 ms hold to expire",
            )
        return hold

    def place(self, drawn: Drawn, target: Target) -> None:
        """Puts the target in place and writes its id into the request (when hold_id is the target)."""
        message: Any = drawn.message
        if message.hold_id != TARGET_ID:
            return
        if target.state == UNKNOWN:
            message.hold_id = target.unknown_id
        elif target.state == FOREIGN or drawn.verdicts["customer_id"] != VALID:
            # Another customer's hold (the owner's, in the target's state, made once).
            state = ACTIVE if target.state == FOREIGN else target.state
            if state not in self.owned:
                self.owned[state] = self.hold(OWNER, "USD", 1_000, state)
            message.hold_id = self.owned[state].id
        else:
            message.hold_id = self.hold(message.customer_id, target.currency, target.amount, target.state).id

    def pages(self) -> dict[str, tuple[int, str]]:
        """The owner's holds in every state and currency (made once); next_page_tokens of their pages,
        with the (created_at, id) of the last hold each follows."""
        if self._pages is None:
            for currency in ("USD", "INR"):
                for state in (ACTIVE, *CLOSED):
                    self.hold(OWNER, currency, 1_000, state)
            self._pages = {}
            for page_size in (1, 2, 3):
                token = ""
                for _ in range(2):
                    request = wallet_pb2.ListHoldsRequest(customer_id=OWNER, page_size=page_size, page_token=token)
                    page = self.stub.ListHolds(request, timeout=30)
                    token, last = page.next_page_token, page.holds[-1]
                    self._pages[token] = (micros(last.created_at), last.id)
        return self._pages


# ---------------------------------------------------------------- requests


def _duration(seconds: int, nanos: int) -> Duration:
    return Duration(seconds=seconds, nanos=nanos)


NANOS = int_edges(0, 999_999_999)
TTL: Pools = {
    # Unset or 0: the default. Otherwise 1 ms to 7 days.
    VALID: st.one_of(
        st.none(),
        st.just(Duration()),
        st.builds(_duration, int_edges(1, HOLD_TTL_MAX_S - 1), NANOS),
        st.builds(_duration, st.just(0), int_edges(1_000_000, 999_999_999)),
        st.builds(_duration, st.just(HOLD_TTL_MAX_S), int_edges(0, 999_999)),
    ),
    INVALID: st.one_of(
        # Negative, in either part.
        st.builds(_duration, int_edges(INT64_MIN, -1), int_edges(-999_999_999, 0)),
        st.builds(_duration, int_edges(0, INT64_MAX), int_edges(-999_999_999, -1)),
        # Longer than 7 days.
        st.builds(_duration, int_edges(HOLD_TTL_MAX_S + 1, INT64_MAX), NANOS),
        st.builds(_duration, st.just(HOLD_TTL_MAX_S), int_edges(1_000_000, 999_999_999)),
        # Shorter than a millisecond, but not 0.
        st.builds(_duration, st.just(0), int_edges(1, 999_999)),
    ),
    # Nanos beyond Duration's documented range (at most 999,999,999). The server reads them as more
    # milliseconds (0 s + 2e9 ns is a 2 s hold) and refuses only a total beyond 7 days.
    ANY: st.builds(_duration, int_edges(0, HOLD_TTL_MAX_S + 1), int_edges(1_000_000_000, INT32_MAX)),
}


@st.composite
def create_hold_requests(draw: st.DrawFn) -> tuple[Drawn, bool]:
    """A CreateHold request, and whether its wallet is to be credited with its amount first."""
    fields = draw_fields(
        draw,
        {
            "customer_id": CUSTOMER_ID,
            "currency": CURRENCY,
            "amount": AMOUNT,
            "reason": text_rule(1_000),
            "idempotency_key": text_rule(255),
            "metadata": METADATA,
            "ttl": TTL,
        },
    )
    message = wallet_pb2.CreateHoldRequest(**values_of(fields, "metadata"))
    message.metadata.update(fields["metadata"][1])
    verdicts = verdicts_of(fields)
    funded = draw(st.booleans()) and all(verdicts[name] == VALID for name in ("customer_id", "currency", "amount"))
    # A valid hold is made, or replayed, or its key was used before with other parameters, or it finds too
    # little money: on an unfunded wallet now, or on a wallet just credited with its amount when its key was
    # refused for too little money before (a refusal stored under its key is replayed, top-up or not).
    outcomes = frozenset({OK, KEY_REUSED, INSUFFICIENT})
    return Drawn(message, verdicts, outcomes), funded


HOLD_ID: Pools = {
    VALID: st.just(TARGET_ID),
    INVALID: st.one_of(st.just(""), st.text(min_size=HOLD_ID_LENGTH_MAX + 1, max_size=300)),
    ANY: ANY_TEXT,
}


def _expected(method: str, target: Target, amount: int = 0) -> frozenset[Outcome]:
    """The answer to a request valid in every field whose hold_id names the target."""
    if target.state in (UNKNOWN, FOREIGN):
        return frozenset({NOT_FOUND})
    if method == "GetHold":
        return frozenset({OK})
    if method == "ReleaseHold":
        return frozenset({OK} if target.state in (ACTIVE, RELEASED) else {NOT_ACTIVE})
    if target.state == ACTIVE:
        return frozenset({OK} if amount <= target.amount else {EXCEEDS})
    # Repeating the capture of the whole hold (0 or its amount) replays it.
    repeats = target.state == CAPTURED and amount in (0, target.amount)
    return frozenset({OK} if repeats else {NOT_ACTIVE})


@st.composite
def capture_requests(draw: st.DrawFn) -> tuple[Drawn, Target]:
    target = draw(TARGETS)
    fields = draw_fields(
        draw,
        {
            "customer_id": CUSTOMER_ID,
            "hold_id": HOLD_ID,
            "amount": {
                VALID: int_edges(0, AMOUNT_MAX),
                INVALID: st.one_of(int_edges(INT64_MIN, -1), int_edges(AMOUNT_MAX + 1, INT64_MAX)),
            },
            "reason": text_rule(1_000),
            "metadata": METADATA,
        },
    )
    # A valid amount fits the target (edges included), exceeds it, or is anything.
    fit = draw(st.sampled_from(["within", "beyond", "any"]))
    if fields["amount"][0] == VALID and fit == "within":
        fields["amount"] = (VALID, draw(int_edges(0, target.amount)))
    elif fields["amount"][0] == VALID and fit == "beyond" and target.amount < AMOUNT_MAX:
        fields["amount"] = (VALID, draw(int_edges(target.amount + 1, AMOUNT_MAX)))
    message = wallet_pb2.CaptureHoldRequest(**values_of(fields, "metadata"))
    message.metadata.update(fields["metadata"][1])
    return Drawn(message, verdicts_of(fields), _expected("CaptureHold", target, message.amount)), target


def hold_ref_requests(method: str) -> st.SearchStrategy[tuple[Drawn, Target]]:
    """ReleaseHold or GetHold requests: a customer and a hold id."""
    message_type = wallet_pb2.ReleaseHoldRequest if method == "ReleaseHold" else wallet_pb2.GetHoldRequest

    @st.composite
    def requests(draw: st.DrawFn) -> tuple[Drawn, Target]:
        target = draw(TARGETS)
        fields = draw_fields(draw, {"customer_id": CUSTOMER_ID, "hold_id": HOLD_ID})
        return Drawn(message_type(**values_of(fields)), verdicts_of(fields), _expected(method, target)), target

    return requests()


def page_token_of(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode()


# Tokens no server wrote and that cannot be read as one: not base64, not UTF-8, no position, no hold id,
# a time with no zone, no time at all.
BAD_TOKENS = [
    "not a token!",
    "%%%%",
    "QQ",
    base64.urlsafe_b64encode(b"\xff\xfe|hd_1").decode(),
    page_token_of("2024-01-01T00:00:00+00:00"),
    page_token_of("2024-01-01T00:00:00+00:00|"),
    page_token_of("2024-01-01T00:00:00|hd_1"),
    page_token_of("yesterday|hd_1"),
    page_token_of("|hd_1"),
]
# Positions no server wrote but that read as one: any time in any zone, any hold id.
FORGED_TOKENS = st.builds(
    lambda moment, hold_id: page_token_of(f"{moment.isoformat()}|{hold_id}"),
    st.datetimes(
        timezones=st.builds(
            timezone,
            st.timedeltas(min_value=timedelta(hours=-23, minutes=-59), max_value=timedelta(hours=23, minutes=59)),
        )
    ),
    SHAPELY_HOLD_ID,
)


def list_holds_requests(tokens: list[str]) -> st.SearchStrategy[Drawn]:
    """ListHolds requests; `tokens` are next_page_tokens the server returned."""

    @st.composite
    def requests(draw: st.DrawFn) -> Drawn:
        fields = draw_fields(
            draw,
            {
                "customer_id": {**CUSTOMER_ID, VALID: st.one_of(st.just(OWNER), VALID_ID)},
                "currency": CURRENCY_FILTER,
                "status": {VALID: st.sampled_from([0, 1, 2, 3, 4]), INVALID: unknown_enum(5)},
                "page_size": {
                    VALID: int_edges(0, PAGE_SIZE_MAX, 2, 3),
                    INVALID: st.one_of(int_edges(INT32_MIN, -1), int_edges(PAGE_SIZE_MAX + 1, INT32_MAX)),
                },
                "page_token": {
                    VALID: st.one_of(st.just(""), st.sampled_from(tokens)),
                    INVALID: st.sampled_from(BAD_TOKENS),
                    ANY: st.one_of(ANY_TEXT, FORGED_TOKENS),
                },
            },
        )
        # A token is only good for the query it came from (the owner, no filters): with any other
        # customer or filter the server refuses it, naming page_token (AIP-158).
        token = fields["page_token"][1]
        query = (fields["customer_id"][1], fields["currency"][1], fields["status"][1])
        if token in tokens and query != (OWNER, "", 0):
            fields["page_token"] = (INVALID, token)
        return Drawn(wallet_pb2.ListHoldsRequest(**values_of(fields)), verdicts_of(fields), frozenset({OK}))

    return requests()


# ---------------------------------------------------------------- sensible answers


def _check_hold(hold: Any, customer_id: str) -> None:
    """A hold of the customer that agrees with itself."""
    assert hold.customer_id == customer_id and hold.id.startswith("hd_") and len(hold.id) <= HOLD_ID_LENGTH_MAX
    assert 1 <= hold.amount <= AMOUNT_MAX and hold.currency in ("USD", "INR"), hold
    assert hold.status in STATUS.values(), hold
    captured = hold.status == wallet_pb2.HOLD_STATUS_CAPTURED
    assert (hold.captured_amount > 0) == captured == bool(hold.capture_entry_id), hold
    assert hold.captured_amount <= hold.amount, hold
    assert hold.HasField("closed_at") == (hold.status != wallet_pb2.HOLD_STATUS_ACTIVE), hold
    assert micros(hold.expire_time) > micros(hold.created_at), hold


def _ttl_ms(ttl: Duration) -> int:
    return ttl.seconds * 1_000 + ttl.nanos // 1_000_000 or HOLD_TTL_DEFAULT_MS


def _create_hold_ok(request: Any, responses: list[bytes]) -> None:
    response = wallet_pb2.CreateHoldResponse.FromString(responses[0])
    hold, wallet = response.hold, response.wallet
    _check_hold(hold, request.customer_id)
    # A replay needs the same parameters, so it echoes the request as well.
    assert (hold.currency, hold.amount, hold.reason, hold.idempotency_key, dict(hold.metadata)) == (
        request.currency,
        request.amount,
        request.reason,
        request.idempotency_key,
        dict(request.metadata),
    )
    assert micros(hold.expire_time) - micros(hold.created_at) == _ttl_ms(request.ttl) * 1_000, hold
    check_wallet(wallet, request.customer_id, request.currency)
    if not response.idempotent_replay:
        assert hold.status == wallet_pb2.HOLD_STATUS_ACTIVE, hold
        assert wallet.held_balance >= hold.amount, (wallet, hold)


def _capture_ok(target: Target) -> Callable[[Any, list[bytes]], None]:
    def check(request: Any, responses: list[bytes]) -> None:
        response = wallet_pb2.CaptureHoldResponse.FromString(responses[0])
        hold, entry = response.hold, response.entry
        _check_hold(hold, request.customer_id)
        assert hold.id == request.hold_id and hold.status == wallet_pb2.HOLD_STATUS_CAPTURED, hold
        assert hold.captured_amount == (request.amount or hold.amount), (hold, request.amount)
        assert response.idempotent_replay == (target.state == CAPTURED), response.idempotent_replay
        assert (entry.id, entry.hold_id, entry.entry_type) == (
            hold.capture_entry_id,
            hold.id,
            wallet_pb2.ENTRY_TYPE_DEBIT,
        )
        assert (entry.customer_id, entry.currency, entry.amount) == (
            hold.customer_id,
            hold.currency,
            hold.captured_amount,
        )
        assert entry.after_balance == entry.before_balance - entry.amount >= 0, entry
        if not response.idempotent_replay:
            assert entry.reason == (request.reason or hold.reason), entry.reason
            assert dict(entry.metadata) == {**TARGET_METADATA, **request.metadata}, entry.metadata
            assert response.wallet.balance <= entry.after_balance, (response.wallet, entry)
        check_wallet(response.wallet, request.customer_id, hold.currency)

    return check


def _release_ok(target: Target) -> Callable[[Any, list[bytes]], None]:
    def check(request: Any, responses: list[bytes]) -> None:
        response = wallet_pb2.ReleaseHoldResponse.FromString(responses[0])
        hold = response.hold
        _check_hold(hold, request.customer_id)
        assert hold.id == request.hold_id and hold.status == wallet_pb2.HOLD_STATUS_RELEASED, hold
        assert response.idempotent_replay == (target.state == RELEASED), response.idempotent_replay
        check_wallet(response.wallet, request.customer_id, hold.currency)

    return check


def get_hold_ok(target: Target) -> Callable[[Any, list[bytes]], None]:
    def check(request: Any, responses: list[bytes]) -> None:
        hold = wallet_pb2.GetHoldResponse.FromString(responses[0]).hold
        _check_hold(hold, request.customer_id)
        assert hold.id == request.hold_id and hold.status == STATUS[target.state], (hold, target)
        assert (hold.currency, hold.amount, dict(hold.metadata)) == (target.currency, target.amount, TARGET_METADATA)

    return check


def _list_ok(positions: dict[str, tuple[int, str]]) -> Callable[[Any, list[bytes]], None]:
    """Checks a page; `positions` are the (created_at, id) of the last hold of each page a token follows."""

    def check(request: Any, responses: list[bytes]) -> None:
        response = wallet_pb2.ListHoldsResponse.FromString(responses[0])
        holds = response.holds
        page_size = request.page_size or PAGE_SIZE_DEFAULT
        assert len(holds) <= page_size and (not response.next_page_token or len(holds) == page_size)
        for hold in holds:
            _check_hold(hold, request.customer_id)
            assert not request.currency or hold.currency == request.currency, hold
            assert not request.status or hold.status == request.status, hold
        keys = [(micros(h.created_at), h.id) for h in holds]
        assert keys == sorted(keys, reverse=True) and len(set(keys)) == len(keys), keys
        if request.page_token in positions:
            assert all(key < positions[request.page_token] for key in keys), (keys, positions[request.page_token])

    return check


# ---------------------------------------------------------------- the server


def _create_hold_attempt(setup: Setup, case: tuple[Drawn, bool]) -> Attempt:
    drawn, funded = case
    message: Any = drawn.message
    fund = (lambda: setup.fund(message.customer_id, message.currency, message.amount)) if funded else None
    return Attempt(drawn, _create_hold_ok, prepare=fund)


def _targeted(
    setup: Setup, check_ok: Callable[[Target], Callable[[Any, list[bytes]], None]]
) -> Callable[[tuple[Drawn, Target]], Attempt]:
    """Attempts whose target is put in place just before they are sent."""

    def attempt(case: tuple[Drawn, Target]) -> Attempt:
        drawn, target = case
        return Attempt(drawn, check_ok(target), prepare=lambda: setup.place(drawn, target))

    return attempt


def _list_holds_attempts(setup: Setup) -> st.SearchStrategy[Attempt]:
    pages = setup.pages()
    return plain(list_holds_requests(sorted(pages)), _list_ok(pages))


CASES = [
    RpcCase(
        "CreateHold",
        "CreateHold",
        wallet_pb2.CreateHoldRequest,
        lambda setup: create_hold_requests().map(lambda case: _create_hold_attempt(setup, case)),
        reaching(OK, REFUSED, INSUFFICIENT),
    ),
    RpcCase(
        "CaptureHold",
        "CaptureHold",
        wallet_pb2.CaptureHoldRequest,
        lambda setup: capture_requests().map(_targeted(setup, _capture_ok)),
        reaching(OK, REFUSED, NOT_FOUND, NOT_ACTIVE, EXCEEDS),
    ),
    RpcCase(
        "ReleaseHold",
        "ReleaseHold",
        wallet_pb2.ReleaseHoldRequest,
        lambda setup: hold_ref_requests("ReleaseHold").map(_targeted(setup, _release_ok)),
        reaching(OK, REFUSED, NOT_FOUND, NOT_ACTIVE),
    ),
    RpcCase(
        "GetHold",
        "GetHold",
        wallet_pb2.GetHoldRequest,
        lambda setup: hold_ref_requests("GetHold").map(_targeted(setup, get_hold_ok)),
        reaching(OK, REFUSED, NOT_FOUND),
    ),
    RpcCase("ListHolds", "ListHolds", wallet_pb2.ListHoldsRequest, _list_holds_attempts, reaching(OK, REFUSED)),
]
