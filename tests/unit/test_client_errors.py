"""Every ErrorReason of the proto reaches the client as an exception it documents.

The reasons are read from the generated enum, so a reason added to the proto
fails here until the client places it (if only as the generic WalletError).
Failed calls are fakes carrying a rich status, as the server sends it; no
server runs.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

import grpc
import pytest
from google.protobuf import any_pb2
from google.rpc import error_details_pb2, status_pb2

import wallet_client
from wallet.v1 import wallet_pb2
from wallet_client import errors, hold_errors
from wallet_client.cli import display
from wallet_client.models import HoldStatus
from wallet_client.rpc_errors import ERROR_DOMAIN, EXCEPTION_BY_REASON, from_batch_entry_error, from_rpc_error

CLIENT_DOCS = Path(__file__).resolve().parents[2] / "docs" / "clients.md"

REASONS = [
    wallet_pb2.ErrorReason.Name(value)
    for value in wallet_pb2.ErrorReason.values()
    if value != wallet_pb2.ERROR_REASON_UNSPECIFIED
]


class FailedCall:
    """A failed call as grpc raises it: a code, a message, and the rich status in the trailers."""

    def __init__(self, code: grpc.StatusCode, message: str, *details: any_pb2.Any) -> None:
        self._code = code
        self._message = message
        self._status = status_pb2.Status(code=code.value[0], message=message, details=list(details))

    def code(self) -> grpc.StatusCode:
        return self._code

    def details(self) -> str:
        return self._message

    def trailing_metadata(self) -> tuple[tuple[str, bytes], ...]:
        return (("grpc-status-details-bin", self._status.SerializeToString()),)


def _packed(message: error_details_pb2.ErrorInfo | error_details_pb2.BadRequest) -> any_pb2.Any:
    detail = any_pb2.Any()
    detail.Pack(message)
    return detail


def _error_info(reason: str, metadata: Mapping[str, str] | None = None) -> any_pb2.Any:
    return _packed(error_details_pb2.ErrorInfo(reason=reason, domain=ERROR_DOMAIN, metadata=metadata))


def _documented_exceptions() -> set[str]:
    """The exception names in the table of the Errors section of docs/clients.md."""
    section = CLIENT_DOCS.read_text().split("### Errors", 1)[1].split("\n### ", 1)[0]
    return set(re.findall(r"^\| `(\w+)` \|", section, flags=re.MULTILINE))


def test_every_reason_of_the_proto_has_an_exception() -> None:
    assert REASONS, "the generated ErrorReason enum is empty"
    missing = [reason for reason in REASONS if reason not in EXCEPTION_BY_REASON]
    assert not missing, f"reasons with no client exception; add them to EXCEPTION_BY_REASON: {missing}"


def test_the_mapping_names_only_reasons_of_the_proto() -> None:
    assert set(EXCEPTION_BY_REASON) <= set(REASONS)


@pytest.mark.parametrize("reason", REASONS)
def test_each_reason_maps_to_a_documented_exception_or_the_generic_one(reason: str) -> None:
    kind = EXCEPTION_BY_REASON[reason]
    assert kind.__name__ in wallet_client.__all__
    assert kind is errors.WalletError or kind.__name__ in _documented_exceptions()


@pytest.mark.parametrize("reason", REASONS)
def test_a_failed_call_with_the_reason_raises_its_exception(reason: str) -> None:
    # UNKNOWN: the reason alone must decide, whatever status code it travels with.
    error = from_rpc_error(FailedCall(grpc.StatusCode.UNKNOWN, "refused", _error_info(reason)), attempts=2)
    assert type(error) is EXCEPTION_BY_REASON[reason]
    assert (error.reason, error.message, error.attempts) == (reason, "refused", 2)


def test_the_refusals_carry_their_numbers_from_the_metadata() -> None:
    numbers = {"balance": "1200", "amount": "5000", "currency": "USD"}
    for reason, kind in (
        ("INSUFFICIENT_WALLET_FUNDS", errors.InsufficientBalance),
        ("BALANCE_OVERFLOW", errors.BalanceOverflow),
    ):
        call = FailedCall(grpc.StatusCode.FAILED_PRECONDITION, "no", _error_info(reason, numbers))
        error = from_rpc_error(call, idempotency_key="k")
        assert isinstance(error, kind)
        assert (error.balance, error.amount, error.currency, error.idempotency_key) == (1_200, 5_000, "USD", "k")
        assert isinstance(error.balance, int)


def test_a_reused_key_names_the_original_entry() -> None:
    call = FailedCall(
        grpc.StatusCode.ALREADY_EXISTS, "reused", _error_info("IDEMPOTENCY_KEY_REUSED", {"entry_id": "le_1"})
    )
    error = from_rpc_error(call)
    assert isinstance(error, errors.IdempotencyKeyReused) and error.entry_id == "le_1"


def test_a_refused_hold_says_what_is_held_and_available() -> None:
    numbers = {"balance": "1000", "amount": "700", "currency": "USD", "held_balance": "400", "available_balance": "600"}
    call = FailedCall(grpc.StatusCode.FAILED_PRECONDITION, "no", _error_info("INSUFFICIENT_WALLET_FUNDS", numbers))
    error = from_rpc_error(call)
    assert isinstance(error, errors.InsufficientBalance)
    assert (error.balance, error.held_balance, error.available_balance, error.amount) == (1_000, 400, 600, 700)


def test_the_hold_refusals_carry_the_hold_and_its_numbers() -> None:
    def error_of(code: grpc.StatusCode, reason: str, metadata: dict[str, str]) -> errors.WalletError:
        return from_rpc_error(FailedCall(code, "no", _error_info(reason, metadata)))

    missing = error_of(grpc.StatusCode.NOT_FOUND, "HOLD_NOT_FOUND", {"hold_id": "hd_1"})
    assert isinstance(missing, hold_errors.HoldNotFound) and missing.hold_id == "hd_1"
    closed = error_of(
        grpc.StatusCode.FAILED_PRECONDITION, "HOLD_NOT_ACTIVE", {"hold_id": "hd_1", "status": "HOLD_STATUS_EXPIRED"}
    )
    assert isinstance(closed, hold_errors.HoldNotActive)
    assert (closed.hold_id, closed.hold_status) == ("hd_1", HoldStatus.EXPIRED)
    unknown = error_of(grpc.StatusCode.FAILED_PRECONDITION, "HOLD_NOT_ACTIVE", {"status": "HOLD_STATUS_NEWER"})
    assert isinstance(unknown, hold_errors.HoldNotActive) and unknown.hold_status is None
    too_much = error_of(
        grpc.StatusCode.FAILED_PRECONDITION,
        "CAPTURE_EXCEEDS_HOLD",
        {"hold_id": "hd_1", "amount": "500", "hold_amount": "400"},
    )
    assert isinstance(too_much, hold_errors.CaptureExceedsHold)
    assert (too_much.hold_id, too_much.amount, too_much.hold_amount) == ("hd_1", 500, 400)
    reused = error_of(grpc.StatusCode.ALREADY_EXISTS, "IDEMPOTENCY_KEY_REUSED", {"hold_id": "hd_1"})
    assert isinstance(reused, errors.IdempotencyKeyReused)
    assert (reused.entry_id, reused.hold_id) == ("", "hd_1")


def test_an_invalid_request_lists_every_bad_field() -> None:
    violations = error_details_pb2.BadRequest(
        field_violations=[
            error_details_pb2.BadRequest.FieldViolation(field="amount", description="must be positive"),
            error_details_pb2.BadRequest.FieldViolation(field="currency", description="unknown"),
        ]
    )
    call = FailedCall(grpc.StatusCode.INVALID_ARGUMENT, "bad", _error_info("INVALID_ARGUMENT"), _packed(violations))
    error = from_rpc_error(call)
    assert isinstance(error, errors.InvalidRequest)
    assert [(v.field, v.description) for v in error.violations] == [
        ("amount", "must be positive"),
        ("currency", "unknown"),
    ]


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        (grpc.StatusCode.UNAVAILABLE, errors.WalletUnavailable),
        (grpc.StatusCode.DEADLINE_EXCEEDED, errors.WalletUnavailable),
        (grpc.StatusCode.ABORTED, errors.WalletUnavailable),
        (grpc.StatusCode.INVALID_ARGUMENT, errors.InvalidRequest),
        (grpc.StatusCode.CANCELLED, errors.WalletError),
        (grpc.StatusCode.INTERNAL, errors.WalletError),
    ],
)
def test_without_a_reason_of_ours_the_status_code_decides(
    code: grpc.StatusCode, kind: type[errors.WalletError]
) -> None:
    foreign = _packed(error_details_pb2.ErrorInfo(reason="INSUFFICIENT_WALLET_FUNDS", domain="example.com"))
    for call in (FailedCall(code, "no details"), FailedCall(code, "foreign", foreign)):
        error = from_rpc_error(call)
        assert type(error) is kind
        assert error.reason == ""


def test_a_refusal_the_server_replays_says_so_on_every_exception() -> None:
    stored = {"balance": "0", "amount": "500", "currency": "USD", "replayed": "true"}
    call = FailedCall(grpc.StatusCode.FAILED_PRECONDITION, "no", _error_info("INSUFFICIENT_WALLET_FUNDS", stored))
    error = from_rpc_error(call, idempotency_key="pay_1")
    assert isinstance(error, errors.InsufficientBalance) and error.replayed
    missing = FailedCall(grpc.StatusCode.NOT_FOUND, "no", _error_info("HOLD_NOT_FOUND", {"replayed": "true"}))
    assert from_rpc_error(missing).replayed
    atomic = FailedCall(
        grpc.StatusCode.FAILED_PRECONDITION, "no", _error_info("INSUFFICIENT_WALLET_FUNDS", {**stored, "index": "1"})
    )
    refused_batch = from_rpc_error(atomic)
    assert isinstance(refused_batch, errors.AtomicBatchRefused)
    assert refused_batch.replayed and refused_batch.cause.replayed
    entry_error = wallet_pb2.BatchEntryError(
        code=grpc.StatusCode.FAILED_PRECONDITION.value[0], reason="BALANCE_OVERFLOW", message="no", metadata=stored
    )
    assert from_batch_entry_error(entry_error, "k").replayed


def test_a_first_refusal_is_not_marked_replayed() -> None:
    for metadata in ({}, {"replayed": "false"}, {"replayed": "True "}):
        call = FailedCall(grpc.StatusCode.FAILED_PRECONDITION, "no", _error_info("INSUFFICIENT_WALLET_FUNDS", metadata))
        assert not from_rpc_error(call).replayed
    assert not errors.WalletError("plain").replayed


def test_the_command_line_says_a_replayed_refusal_was_refused_earlier_with_this_key() -> None:
    stored = {"balance": "1200", "amount": "5000", "currency": "USD"}
    first = from_rpc_error(
        FailedCall(grpc.StatusCode.FAILED_PRECONDITION, "no", _error_info("INSUFFICIENT_WALLET_FUNDS", stored)),
        idempotency_key="pay_1",
    )
    again = from_rpc_error(
        FailedCall(
            grpc.StatusCode.FAILED_PRECONDITION,
            "no",
            _error_info("INSUFFICIENT_WALLET_FUNDS", {**stored, "replayed": "true"}),
        ),
        idempotency_key="pay_1",
    )
    attempt = display.Attempt(exponents={"USD": 2}, write="entry")
    plain = display.describe_error(first, attempt, "127.0.0.1:1")
    assert plain == display.Failure("Insufficient balance: has $12.00, needs $50.00", display.EXIT_REFUSED)
    replayed = display.describe_error(again, attempt, "127.0.0.1:1")
    assert replayed.exit_code == display.EXIT_REFUSED
    assert replayed.message.startswith(
        "Insufficient balance: has $12.00, needs $50.00: "
        "refused earlier with this key (pay_1), and nothing was written."
    )
    assert "use a new --idempotency-key" in replayed.message
