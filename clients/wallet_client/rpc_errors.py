"""The one mapping from a failed gRPC call to the exceptions of `wallet_client.errors`.

The server sends a rich `google.rpc.Status`: an `ErrorInfo` (domain
`wallet.internal`) whose reason says what happened, and for INVALID_ARGUMENT a
`BadRequest` listing the bad fields. Everything here is read from those
details, never parsed out of the human-readable message.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import grpc
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

from wallet.v1 import wallet_pb2
from wallet_client import errors, hold_errors, reversal_errors
from wallet_client.errors import FieldViolation, InvalidRequest, WalletError, WalletUnavailable

ERROR_DOMAIN = "wallet.internal"

# Codes that mean "the service did not answer (in time)": nothing is known to
# have happened, so the same call may be sent again.
TRANSIENT_CODES = frozenset({grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.ABORTED})


_reason = wallet_pb2.ErrorReason.Name
# google.rpc.Code numbers (a batch entry's error carries one) to grpc's codes.
_CODES: Mapping[int, grpc.StatusCode] = {code.value[0]: code for code in grpc.StatusCode}

# The exception of every reason the proto declares. A unit test fails when the
# proto gains a reason that is missing here, so a new one is placed on purpose,
# if only as the generic WalletError.
EXCEPTION_BY_REASON: Mapping[str, type[WalletError]] = {
    _reason(wallet_pb2.INVALID_ARGUMENT): InvalidRequest,
    _reason(wallet_pb2.INSUFFICIENT_WALLET_FUNDS): errors.InsufficientBalance,
    _reason(wallet_pb2.BALANCE_OVERFLOW): errors.BalanceOverflow,
    _reason(wallet_pb2.IDEMPOTENCY_KEY_REUSED): errors.IdempotencyKeyReused,
    _reason(wallet_pb2.HOLD_NOT_FOUND): hold_errors.HoldNotFound,
    _reason(wallet_pb2.HOLD_NOT_ACTIVE): hold_errors.HoldNotActive,
    _reason(wallet_pb2.CAPTURE_EXCEEDS_HOLD): hold_errors.CaptureExceedsHold,
    _reason(wallet_pb2.CURSOR_EXPIRED): errors.CursorExpired,
    _reason(wallet_pb2.REVERSAL_EXCEEDS_ENTRY): reversal_errors.ReversalExceedsEntry,
    _reason(wallet_pb2.ENTRY_NOT_REVERSIBLE): reversal_errors.EntryNotReversible,
    _reason(wallet_pb2.ENTRY_NOT_FOUND): reversal_errors.EntryNotFound,
    # Sent with UNAVAILABLE, ABORTED or DEADLINE_EXCEEDED: the same call may succeed later.
    _reason(wallet_pb2.DATABASE_UNAVAILABLE): WalletUnavailable,
    # The write may have applied: retried (and, after the retries, to be re-sent) with the same key.
    _reason(wallet_pb2.COMMIT_OUTCOME_UNKNOWN): WalletUnavailable,
    _reason(wallet_pb2.SERVER_BUSY): WalletUnavailable,
    _reason(wallet_pb2.SHUTTING_DOWN): WalletUnavailable,
    _reason(wallet_pb2.LOCK_TIMEOUT): WalletUnavailable,
    _reason(wallet_pb2.STATEMENT_TIMEOUT): WalletUnavailable,
    # No exception of their own: a caller tells them apart by `.code` and `.reason`.
    _reason(wallet_pb2.UNAUTHENTICATED): WalletError,
    _reason(wallet_pb2.MISSING_SCOPE): WalletError,
    _reason(wallet_pb2.INTERNAL): WalletError,
    # WebhookService (administration, through the `wallet webhooks` command): `.reason` tells it apart.
    _reason(wallet_pb2.WEBHOOK_ENDPOINT_NOT_FOUND): WalletError,
}


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


def from_rpc_error(call: grpc.RpcError, *, idempotency_key: str | None = None, attempts: int = 1) -> WalletError:
    """The named exception for a failed call (a grpc.RpcError or grpc.aio.AioRpcError)."""
    code: grpc.StatusCode = call.code() if hasattr(call, "code") else grpc.StatusCode.UNKNOWN
    message = (call.details() if hasattr(call, "details") else None) or code.name
    status = _rich_status(call)
    info, violations = _unpack_details(status) if status is not None else (None, [])
    ours = info is not None and info.domain == ERROR_DOMAIN
    reason = info.reason if info is not None and ours else ""
    metadata: dict[str, str] = dict(info.metadata) if info is not None and ours else {}
    fields: dict[str, Any] = {
        "code": code,
        "reason": reason,
        "metadata": metadata,
        "status": status,
        "idempotency_key": idempotency_key,
        "attempts": attempts,
    }
    error = _exception_class(code, reason)._from_status(message, tuple(violations), fields)
    # Only an atomic batch names the position of the request that refused it.
    return errors.AtomicBatchRefused(error) if "index" in metadata else error


def from_batch_entry_error(error: wallet_pb2.BatchEntryError, idempotency_key: str) -> WalletError:
    """The named exception a refused entry of a batch would have raised as a call of its own."""
    code = _CODES.get(error.code, grpc.StatusCode.UNKNOWN)
    metadata = dict(error.metadata)
    violations = (FieldViolation(metadata["field"], error.message),) if "field" in metadata else ()
    fields: dict[str, Any] = {
        "code": code,
        "reason": error.reason,
        "metadata": metadata,
        "status": None,
        "idempotency_key": idempotency_key,
    }
    return _exception_class(code, error.reason)._from_status(error.message, violations, fields)


def _exception_class(code: grpc.StatusCode, reason: str) -> type[WalletError]:
    if code == grpc.StatusCode.INVALID_ARGUMENT:
        return InvalidRequest
    kind = EXCEPTION_BY_REASON.get(reason, WalletError)
    if kind is WalletError and code in TRANSIENT_CODES:
        # No reason of ours (a failure of the connection, or a server newer than
        # this client) or a generic one: the code alone says the call may be sent again.
        return WalletUnavailable
    return kind
