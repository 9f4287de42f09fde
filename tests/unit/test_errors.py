"""Every WalletError maps to its declared status code, reason and details (one test walks them all)."""

from __future__ import annotations

import grpc
import pytest
from google.rpc import code_pb2, error_details_pb2

from server import errors
from server.errors import FieldViolation, WalletError, to_status


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
    return cls("something happened")


EXPECTED = {
    "WalletError": (grpc.StatusCode.INTERNAL, "INTERNAL", False),
    "InvalidArgument": (grpc.StatusCode.INVALID_ARGUMENT, "INVALID_ARGUMENT", False),
    "InsufficientFunds": (grpc.StatusCode.FAILED_PRECONDITION, "INSUFFICIENT_WALLET_FUNDS", False),
    "BalanceOverflow": (grpc.StatusCode.FAILED_PRECONDITION, "BALANCE_OVERFLOW", False),
    "IdempotencyKeyReused": (grpc.StatusCode.ALREADY_EXISTS, "IDEMPOTENCY_KEY_REUSED", False),
    "DatabaseUnavailable": (grpc.StatusCode.UNAVAILABLE, "DATABASE_UNAVAILABLE", True),
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
    assert (error.code, error.reason, error.retryable) == (code, reason, retryable)
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
    assert error.metadata == {"balance": "1200", "amount": "5000", "currency": "USD"}
