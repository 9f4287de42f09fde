"""Every error a caller can see, declared once, and the one mapping to a gRPC status.

Each class states its status code, its `google.rpc.ErrorInfo` reason and
whether a caller may retry the same request (with the same idempotency key).
`to_status` turns any of them into a `google.rpc.Status` with details; nothing
else in the server builds a status, and no stack trace or SQL reaches a caller.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import ClassVar

import grpc
from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2

ERROR_DOMAIN = "wallet.internal"


@dataclass(frozen=True)
class FieldViolation:
    """One bad request field: its name as in the proto, and what is wrong."""

    field: str
    description: str


class WalletError(Exception):
    """Base of every error a caller may see."""

    code: ClassVar[grpc.StatusCode] = grpc.StatusCode.INTERNAL
    reason: ClassVar[str] = "INTERNAL"
    retryable: ClassVar[bool] = False

    def __init__(self, message: str, metadata: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.metadata = dict(metadata or {})

    def details(self) -> list[any_pb2.Any]:
        """The google.rpc details: ErrorInfo always, subclasses add more."""
        info = any_pb2.Any()
        info.Pack(error_details_pb2.ErrorInfo(reason=self.reason, domain=ERROR_DOMAIN, metadata=self.metadata))
        return [info]


class InvalidArgument(WalletError):
    """The request is malformed; retrying it unchanged fails again."""

    code = grpc.StatusCode.INVALID_ARGUMENT
    reason = "INVALID_ARGUMENT"

    def __init__(self, violations: Sequence[FieldViolation]) -> None:
        assert violations
        self.violations = list(violations)
        first = self.violations[0]
        super().__init__(f"Invalid {first.field}: {first.description}", {"field": first.field})

    def details(self) -> list[any_pb2.Any]:
        bad_request = any_pb2.Any()
        bad_request.Pack(
            error_details_pb2.BadRequest(
                field_violations=[
                    error_details_pb2.BadRequest.FieldViolation(field=v.field, description=v.description)
                    for v in self.violations
                ]
            )
        )
        return [*super().details(), bad_request]


class InsufficientFunds(WalletError):
    """A debit exceeds the balance; retry only after the wallet is credited."""

    code = grpc.StatusCode.FAILED_PRECONDITION
    reason = "INSUFFICIENT_WALLET_FUNDS"

    def __init__(self, *, balance: int, amount: int, currency: str) -> None:
        super().__init__(
            f"Insufficient balance: wallet {currency} holds {balance}, debit needs {amount}",
            {"balance": str(balance), "amount": str(amount), "currency": currency},
        )


class BalanceOverflow(WalletError):
    """A credit would take the balance beyond a signed 64-bit integer."""

    code = grpc.StatusCode.FAILED_PRECONDITION
    reason = "BALANCE_OVERFLOW"

    def __init__(self, *, balance: int, amount: int, currency: str) -> None:
        super().__init__(
            f"Balance overflow: wallet {currency} holds {balance}, credit of {amount} exceeds 2^63-1",
            {"balance": str(balance), "amount": str(amount), "currency": currency},
        )


class IdempotencyKeyReused(WalletError):
    """The key was used before by this customer with other parameters."""

    code = grpc.StatusCode.ALREADY_EXISTS
    reason = "IDEMPOTENCY_KEY_REUSED"

    def __init__(self, *, idempotency_key: str, entry_id: str) -> None:
        super().__init__(
            f"Idempotency key already used with different parameters by entry {entry_id}",
            {"entry_id": entry_id, "idempotency_key": idempotency_key[:200]},
        )


class DatabaseUnavailable(WalletError):
    """The database cannot be reached or dropped the connection; safe to retry."""

    code = grpc.StatusCode.UNAVAILABLE
    reason = "DATABASE_UNAVAILABLE"
    retryable = True


class ServerBusy(WalletError):
    """No database connection became free in time; retry with backoff."""

    code = grpc.StatusCode.UNAVAILABLE
    reason = "SERVER_BUSY"
    retryable = True


class LockTimeout(WalletError):
    """The wallet stayed locked longer than the lock timeout; retry with backoff."""

    code = grpc.StatusCode.ABORTED
    reason = "LOCK_TIMEOUT"
    retryable = True


class StatementTimeout(WalletError):
    """A statement ran longer than the configured limit; retry with backoff."""

    code = grpc.StatusCode.DEADLINE_EXCEEDED
    reason = "STATEMENT_TIMEOUT"
    retryable = True


class ShuttingDown(WalletError):
    """This server process is stopping; another one (or this one, restarted) will answer."""

    code = grpc.StatusCode.UNAVAILABLE
    reason = "SHUTTING_DOWN"
    retryable = True


class Unauthenticated(WalletError):
    """No credential, or one the server does not know."""

    code = grpc.StatusCode.UNAUTHENTICATED
    reason = "UNAUTHENTICATED"


class PermissionDenied(WalletError):
    """The caller is known but lacks the scope the method needs."""

    code = grpc.StatusCode.PERMISSION_DENIED
    reason = "MISSING_SCOPE"


class InternalError(WalletError):
    """A bug: logged in full on the server, shown to the caller without detail."""

    code = grpc.StatusCode.INTERNAL
    reason = "INTERNAL"


def to_status(error: WalletError) -> status_pb2.Status:
    """The google.rpc.Status a caller receives for `error`."""
    return status_pb2.Status(
        code=getattr(code_pb2, error.code.name),
        message=error.message,
        details=error.details(),
    )
