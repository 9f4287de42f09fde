"""Every WalletError maps to its declared status code, reason and details (one test walks them all).

The reasons are the proto's ErrorReason values, in both directions: no error
has a reason the contract does not declare, and no declared reason is unused.
"""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest
from google.rpc import code_pb2, error_details_pb2

from server.api.status import status_code, to_status
from server.domain import errors
from server.domain.errors import FieldViolation, WalletError
from wallet.v1 import wallet_pb2


def _all_error_classes() -> list[type[WalletError]]:
    found: list[type[WalletError]] = []
    pending: list[type[WalletError]] = [WalletError]
    while pending:
        cls = pending.pop()
        found.append(cls)
        pending.extend(cls.__subclasses__())
    return found


def _example(cls: type[WalletError]) -> WalletError:
    if cls is errors.InvalidArgument:
        return errors.InvalidArgument([FieldViolation("amount", "must be positive")])
    if cls in (errors.InsufficientFunds, errors.BalanceOverflow):
        return cls(balance=1, amount=2, currency="USD")
    if cls is errors.IdempotencyKeyReused:
        return errors.IdempotencyKeyReused(idempotency_key="k", entry_id="le_1")
    if cls is errors.HoldNotFound:
        return errors.HoldNotFound(hold_id="hd_1")
    if cls is errors.HoldNotActive:
        return errors.HoldNotActive(hold_id="hd_1", status="HOLD_STATUS_RELEASED")
    if cls is errors.CaptureExceedsHold:
        return errors.CaptureExceedsHold(hold_id="hd_1", amount=5, hold_amount=4)
    if cls is errors.ReversalExceedsEntry:
        return errors.ReversalExceedsEntry(entry_id="le_1", amount=5, reversible=4)
    if cls is errors.EntryNotReversible:
        return errors.EntryNotReversible(entry_id="le_1", why="it is an expiration")
    if cls is errors.EntryNotFound:
        return errors.EntryNotFound(entry_id="le_1")
    if cls is errors.CursorExpired:
        return errors.CursorExpired(cursor="ev_1", oldest_cursor="ev_5")
    if cls is errors.WebhookEndpointNotFound:
        return errors.WebhookEndpointNotFound(endpoint_id="we_1")
    return cls("something happened")


EXPECTED = {
    "WalletError": (grpc.StatusCode.INTERNAL, "INTERNAL", False),
    "InvalidArgument": (grpc.StatusCode.INVALID_ARGUMENT, "INVALID_ARGUMENT", False),
    "InsufficientFunds": (grpc.StatusCode.FAILED_PRECONDITION, "INSUFFICIENT_WALLET_FUNDS", False),
    "BalanceOverflow": (grpc.StatusCode.FAILED_PRECONDITION, "BALANCE_OVERFLOW", False),
    "IdempotencyKeyReused": (grpc.StatusCode.ALREADY_EXISTS, "IDEMPOTENCY_KEY_REUSED", False),
    "HoldNotFound": (grpc.StatusCode.NOT_FOUND, "HOLD_NOT_FOUND", False),
    "WebhookEndpointNotFound": (grpc.StatusCode.NOT_FOUND, "WEBHOOK_ENDPOINT_NOT_FOUND", False),
    "HoldNotActive": (grpc.StatusCode.FAILED_PRECONDITION, "HOLD_NOT_ACTIVE", False),
    "CaptureExceedsHold": (grpc.StatusCode.FAILED_PRECONDITION, "CAPTURE_EXCEEDS_HOLD", False),
    "CursorExpired": (grpc.StatusCode.FAILED_PRECONDITION, "CURSOR_EXPIRED", False),
    "ReversalExceedsEntry": (grpc.StatusCode.FAILED_PRECONDITION, "REVERSAL_EXCEEDS_ENTRY", False),
    "EntryNotReversible": (grpc.StatusCode.FAILED_PRECONDITION, "ENTRY_NOT_REVERSIBLE", False),
    "EntryNotFound": (grpc.StatusCode.NOT_FOUND, "ENTRY_NOT_FOUND", False),
    "DatabaseUnavailable": (grpc.StatusCode.UNAVAILABLE, "DATABASE_UNAVAILABLE", True),
    "CommitOutcomeUnknown": (grpc.StatusCode.UNAVAILABLE, "COMMIT_OUTCOME_UNKNOWN", True),
    "ServerBusy": (grpc.StatusCode.UNAVAILABLE, "SERVER_BUSY", True),
    "LockTimeout": (grpc.StatusCode.ABORTED, "LOCK_TIMEOUT", True),
    "StatementTimeout": (grpc.StatusCode.DEADLINE_EXCEEDED, "STATEMENT_TIMEOUT", True),
    "ShuttingDown": (grpc.StatusCode.UNAVAILABLE, "SHUTTING_DOWN", True),
    "Unauthenticated": (grpc.StatusCode.UNAUTHENTICATED, "UNAUTHENTICATED", False),
    "PermissionDenied": (grpc.StatusCode.PERMISSION_DENIED, "MISSING_SCOPE", False),
    "InternalError": (grpc.StatusCode.INTERNAL, "INTERNAL", False),
}


def test_every_error_class_is_declared_in_the_expected_table() -> None:
    assert {cls.__name__ for cls in _all_error_classes()} == set(EXPECTED)


@pytest.mark.parametrize("cls", _all_error_classes(), ids=lambda cls: cls.__name__)
def test_each_error_becomes_a_status_with_its_code_reason_and_error_info(cls: type[WalletError]) -> None:
    code, reason, retryable = EXPECTED[cls.__name__]
    error = _example(cls)
    assert (status_code(error), error.reason, error.retryable) == (code, reason, retryable)
    status = to_status(error)
    assert status.code == getattr(code_pb2, code.name)
    assert status.message == error.message
    info = error_details_pb2.ErrorInfo()
    assert status.details[0].Unpack(info)
    assert info.reason == reason
    assert info.domain == errors.ERROR_DOMAIN


def test_an_invalid_argument_carries_every_field_violation() -> None:
    error = errors.InvalidArgument([FieldViolation("amount", "bad"), FieldViolation("currency", "worse")])
    bad_request = error_details_pb2.BadRequest()
    assert to_status(error).details[1].Unpack(bad_request)
    assert [(v.field, v.description) for v in bad_request.field_violations] == [
        ("amount", "bad"),
        ("currency", "worse"),
    ]


def test_an_insufficient_funds_message_says_insufficient_balance() -> None:
    error = errors.InsufficientFunds(balance=1200, amount=5000, currency="USD")
    assert "Insufficient balance" in error.message
    assert error.metadata == {
        "balance": "1200",
        "amount": "5000",
        "currency": "USD",
        "held_balance": "0",
        "available_balance": "1200",
    }


def test_every_concrete_error_is_listed_for_the_edge() -> None:
    assert set(errors.ALL_ERRORS) == {cls for cls in _all_error_classes() if cls is not WalletError}


def test_the_reasons_are_exactly_the_error_reasons_the_contract_declares() -> None:
    declared = set(wallet_pb2.ErrorReason.keys()) - {"ERROR_REASON_UNSPECIFIED"}
    assert {cls.reason for cls in _all_error_classes()} == declared


def test_the_errors_document_lists_every_error_reason_of_the_contract() -> None:
    document = (Path(__file__).parents[2] / "docs" / "errors.md").read_text()
    reasons = wallet_pb2.ErrorReason.keys()
    missing = [r for r in reasons if r != "ERROR_REASON_UNSPECIFIED" and f"`{r}`" not in document]
    assert missing == []
