"""The exceptions a caller catches by name, and the one mapping from a failed gRPC call to them.

The server sends a rich `google.rpc.Status`: an `ErrorInfo` (domain
`wallet.internal`) whose reason says what happened, and for INVALID_ARGUMENT a
`BadRequest` listing the bad fields. Everything here is read from those
details, never parsed out of the human-readable message.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import grpc
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

ERROR_DOMAIN = "wallet.internal"

# Codes that mean "the service did not answer (in time)": nothing is known to
# have happened, so the same call may be sent again.
TRANSIENT_CODES = frozenset({grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.ABORTED})


@dataclass(frozen=True)
class FieldViolation:
    """One field the server refused: its proto name and what is wrong with it."""

    field: str
    description: str


class WalletError(Exception):
    """Base of every error of the wallet client; keeps the gRPC status it came from.

    `idempotency_key` is the key a failed write was sent with: sending the same
    write again with that key can never apply it twice.
    """

    def __init__(
        self,
        message: str,
        *,
        code: grpc.StatusCode = grpc.StatusCode.UNKNOWN,
        reason: str = "",
        metadata: Mapping[str, str] | None = None,
        status: status_pb2.Status | None = None,
        idempotency_key: str | None = None,
        attempts: int = 1,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.reason = reason
        self.metadata = dict(metadata or {})
        self.status = status
        self.idempotency_key = idempotency_key
        self.attempts = attempts

    @property
    def details(self) -> str:
        """The status message of the server (same as `message`; named like grpc's `details()`)."""
        return self.message

    def __str__(self) -> str:
        return self.message


class InvalidRequest(WalletError):
    """INVALID_ARGUMENT: the request is malformed; sending it again fails again."""

    def __init__(self, message: str, *, violations: tuple[FieldViolation, ...], **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.violations = violations


class InsufficientBalance(WalletError):
    """FAILED_PRECONDITION / INSUFFICIENT_WALLET_FUNDS: a debit exceeds the balance; nothing was written."""

    def __init__(self, message: str, *, balance: int, amount: int, currency: str, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.balance = balance
        self.amount = amount
        self.currency = currency


class BalanceOverflow(WalletError):
    """FAILED_PRECONDITION / BALANCE_OVERFLOW: a credit would exceed what a balance can hold."""

    def __init__(self, message: str, *, balance: int, amount: int, currency: str, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.balance = balance
        self.amount = amount
        self.currency = currency


class IdempotencyKeyReused(WalletError):
    """ALREADY_EXISTS / IDEMPOTENCY_KEY_REUSED: the key was used before for a different request."""

    def __init__(self, message: str, *, entry_id: str, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.entry_id = entry_id


class WalletUnavailable(WalletError):
    """UNAVAILABLE, DEADLINE_EXCEEDED or ABORTED, still so after the client's retries.

    The outcome of a write is unknown: send it again with `idempotency_key`.
    """


def _unpack_details(
    status: status_pb2.Status,
) -> tuple[error_details_pb2.ErrorInfo | None, list[FieldViolation]]:
    info: error_details_pb2.ErrorInfo | None = None
    violations: list[FieldViolation] = []
    for detail in status.details:
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
        elif detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad_request = error_details_pb2.BadRequest()
            detail.Unpack(bad_request)
            violations.extend(FieldViolation(v.field, v.description) for v in bad_request.field_violations)
    return info, violations


def _rich_status(call: grpc.RpcError) -> status_pb2.Status | None:
    try:
        return rpc_status.from_call(call)
    except ValueError:
        # The trailer disagrees with the call's status (a proxy rewrote one of them): trust the call.
        return None


def _int(metadata: Mapping[str, str], key: str) -> int:
    try:
        return int(metadata.get(key, ""))
    except ValueError:
        return 0


def from_rpc_error(call: grpc.RpcError, *, idempotency_key: str | None = None, attempts: int = 1) -> WalletError:
    """The named exception for a failed call (a grpc.RpcError or grpc.aio.AioRpcError)."""
    code: grpc.StatusCode = call.code() if hasattr(call, "code") else grpc.StatusCode.UNKNOWN
    message = (call.details() if hasattr(call, "details") else None) or code.name
    status = _rich_status(call)
    info, violations = _unpack_details(status) if status is not None else (None, [])
    ours = info is not None and info.domain == ERROR_DOMAIN
    reason = info.reason if info is not None and ours else ""
    metadata: dict[str, str] = dict(info.metadata) if info is not None and ours else {}
    common: dict[str, Any] = {
        "code": code,
        "reason": reason,
        "metadata": metadata,
        "status": status,
        "idempotency_key": idempotency_key,
        "attempts": attempts,
    }
    if code == grpc.StatusCode.INVALID_ARGUMENT:
        return InvalidRequest(message, violations=tuple(violations), **common)
    if reason in ("INSUFFICIENT_WALLET_FUNDS", "BALANCE_OVERFLOW"):
        kind = InsufficientBalance if reason == "INSUFFICIENT_WALLET_FUNDS" else BalanceOverflow
        return kind(
            message,
            balance=_int(metadata, "balance"),
            amount=_int(metadata, "amount"),
            currency=metadata.get("currency", ""),
            **common,
        )
    if reason == "IDEMPOTENCY_KEY_REUSED":
        return IdempotencyKeyReused(message, entry_id=metadata.get("entry_id", ""), **common)
    if code in TRANSIENT_CODES:
        return WalletUnavailable(message, **common)
    return WalletError(message, **common)
