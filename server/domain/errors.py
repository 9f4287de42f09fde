"""Every error a caller can see, declared once, with no dependency on the transport.

Each class states the name of its gRPC status code, its `ErrorInfo` reason
(a value name of the proto's `ErrorReason` enum, checked by a unit test) and
whether a caller may retry the same request with the same idempotency key.
`server.api.status` turns them into `google.rpc.Status`es at the edge, once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import ClassVar

ERROR_DOMAIN = "wallet.internal"


@dataclass(frozen=True)
class FieldViolation:
    """One bad request field: its name as in the proto, and what is wrong."""

    field: str
    description: str


class WalletError(Exception):
    """Base of every error a caller may see."""

    # The name of a grpc.StatusCode member; the API edge maps it.
    code: ClassVar[str] = "INTERNAL"
    reason: ClassVar[str] = "INTERNAL"
    retryable: ClassVar[bool] = False

    def __init_subclass__(cls, *, code: str, reason: str, retryable: bool = False) -> None:
        # Each error states all three where it is declared, in one line.
        super().__init_subclass__()
        cls.code, cls.reason, cls.retryable = code, reason, retryable

    def __init__(self, message: str, metadata: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.metadata = dict(metadata or {})


class InvalidArgument(WalletError, code="INVALID_ARGUMENT", reason="INVALID_ARGUMENT"):
    """The request is malformed; retrying it unchanged fails again."""

    def __init__(self, violations: Sequence[FieldViolation]) -> None:
        assert violations
        self.violations = list(violations)
        first = self.violations[0]
        super().__init__(f"Invalid {first.field}: {first.description}", {"field": first.field})


class InsufficientFunds(WalletError, code="FAILED_PRECONDITION", reason="INSUFFICIENT_WALLET_FUNDS"):
    """A debit or hold exceeds the available balance; retry only after the wallet is credited."""

    def __init__(self, *, balance: int, amount: int, currency: str, held: int = 0, operation: str = "debit") -> None:
        available = balance - held
        on_hold = f", of which {held} on hold" if held else ""
        super().__init__(
            f"Insufficient balance: wallet {currency} holds {balance}{on_hold}, {operation} needs {amount}",
            {
                "balance": str(balance),
                "amount": str(amount),
                "currency": currency,
                "held_balance": str(held),
                "available_balance": str(available),
            },
        )


class BalanceOverflow(WalletError, code="FAILED_PRECONDITION", reason="BALANCE_OVERFLOW"):
    """A credit would take the balance beyond a signed 64-bit integer."""

    def __init__(self, *, balance: int, amount: int, currency: str) -> None:
        super().__init__(
            f"Balance overflow: wallet {currency} holds {balance}, credit of {amount} exceeds 2^63-1",
            {"balance": str(balance), "amount": str(amount), "currency": currency},
        )


class IdempotencyKeyReused(WalletError, code="ALREADY_EXISTS", reason="IDEMPOTENCY_KEY_REUSED"):
    """The key was used before by this customer with other parameters (applied, or refused)."""

    def __init__(
        self, *, idempotency_key: str, entry_id: str = "", hold_id: str = "", refused_reason: str = ""
    ) -> None:
        # The original is named by the kind of id it has, or by the reason it was refused with.
        if refused_reason:
            original = {"refused_reason": refused_reason}
            by = f"a request refused with {refused_reason}"
        else:
            original = {"entry_id": entry_id} if entry_id else {"hold_id": hold_id}
            by = entry_id or hold_id
        super().__init__(
            f"Idempotency key already used with different parameters by {by}",
            {**original, "idempotency_key": idempotency_key[:200]},
        )


class HoldNotFound(WalletError, code="NOT_FOUND", reason="HOLD_NOT_FOUND"):
    """The hold id is not one of this customer's holds."""

    def __init__(self, *, hold_id: str) -> None:
        super().__init__(f"Hold {hold_id[:64]} not found", {"hold_id": hold_id[:64]})


class HoldNotActive(WalletError, code="FAILED_PRECONDITION", reason="HOLD_NOT_ACTIVE"):
    """The hold is closed and the call does not repeat what closed it."""

    def __init__(self, *, hold_id: str, status: str) -> None:
        super().__init__(f"Hold {hold_id} is not active: {status}", {"hold_id": hold_id, "status": status})


class CaptureExceedsHold(WalletError, code="FAILED_PRECONDITION", reason="CAPTURE_EXCEEDS_HOLD"):
    """A capture asks for more than its hold reserves."""

    def __init__(self, *, hold_id: str, amount: int, hold_amount: int) -> None:
        super().__init__(
            f"Capture of {amount} exceeds hold {hold_id} of {hold_amount}",
            {"hold_id": hold_id, "amount": str(amount), "hold_amount": str(hold_amount)},
        )


class ReversalExceedsEntry(WalletError, code="FAILED_PRECONDITION", reason="REVERSAL_EXCEEDS_ENTRY"):
    """A reversal asks for more than the entry has left to reverse now."""

    def __init__(self, *, entry_id: str, amount: int, reversible: int) -> None:
        super().__init__(
            f"Reversal of {amount} exceeds what entry {entry_id} has left to reverse: {reversible}",
            {"entry_id": entry_id, "amount": str(amount), "reversible": str(reversible)},
        )


class EntryNotReversible(WalletError, code="FAILED_PRECONDITION", reason="ENTRY_NOT_REVERSIBLE"):
    """Expirations and reversals themselves are never reversed."""

    def __init__(self, *, entry_id: str, why: str) -> None:
        super().__init__(f"Entry {entry_id} cannot be reversed: {why}", {"entry_id": entry_id})


class EntryNotFound(WalletError, code="NOT_FOUND", reason="ENTRY_NOT_FOUND"):
    """The entry id is not one of this customer's entries."""

    def __init__(self, *, entry_id: str) -> None:
        super().__init__(f"Entry {entry_id[:64]} not found", {"entry_id": entry_id[:64]})


class CursorExpired(WalletError, code="FAILED_PRECONDITION", reason="CURSOR_EXPIRED"):
    """The cursor names an event older than the retention period; the events after it are gone."""

    def __init__(self, *, cursor: str, oldest_cursor: str) -> None:
        super().__init__(
            f"Cursor {cursor} is older than the retained events; start again with from_oldest",
            {"cursor": cursor, "oldest_cursor": oldest_cursor},
        )


class WebhookEndpointNotFound(WalletError, code="NOT_FOUND", reason="WEBHOOK_ENDPOINT_NOT_FOUND"):
    """The webhook endpoint id names no endpoint (never created, or deleted)."""

    def __init__(self, *, endpoint_id: str) -> None:
        shown = endpoint_id[:64].replace("\x00", "\\0")
        super().__init__(f"Webhook endpoint {shown} not found", {"endpoint_id": shown})


class DatabaseUnavailable(WalletError, code="UNAVAILABLE", reason="DATABASE_UNAVAILABLE", retryable=True):
    """No primary database can be reached, or the connection broke before the write's COMMIT; safe to retry."""


class CommitOutcomeUnknown(WalletError, code="UNAVAILABLE", reason="COMMIT_OUTCOME_UNKNOWN", retryable=True):
    """The connection broke while the write's COMMIT was unanswered: it may have applied; retry with the same key."""


class ServerBusy(WalletError, code="UNAVAILABLE", reason="SERVER_BUSY", retryable=True):
    """No database connection became free in time; retry with backoff."""


class LockTimeout(WalletError, code="ABORTED", reason="LOCK_TIMEOUT", retryable=True):
    """The wallet's transaction could not get its locks: it waited past the lock timeout, or PostgreSQL
    chose it as a deadlock's victim or found a serialization failure; retry with backoff."""


class StatementTimeout(WalletError, code="DEADLINE_EXCEEDED", reason="STATEMENT_TIMEOUT", retryable=True):
    """A statement ran longer than the configured limit; retry with backoff."""


class ShuttingDown(WalletError, code="UNAVAILABLE", reason="SHUTTING_DOWN", retryable=True):
    """This server process is stopping; another one (or this one, restarted) will answer."""


class Unauthenticated(WalletError, code="UNAUTHENTICATED", reason="UNAUTHENTICATED"):
    """No credential, or one the server does not know."""


class PermissionDenied(WalletError, code="PERMISSION_DENIED", reason="MISSING_SCOPE"):
    """The caller is known but lacks the scope the method needs."""


class InternalError(WalletError, code="INTERNAL", reason="INTERNAL"):
    """A bug: logged in full on the server, shown to the caller without detail."""


# Every concrete error, for the edge's mapping and the test that walks them all.
ALL_ERRORS: tuple[type[WalletError], ...] = (
    InvalidArgument,
    InsufficientFunds,
    BalanceOverflow,
    IdempotencyKeyReused,
    HoldNotFound,
    HoldNotActive,
    CaptureExceedsHold,
    ReversalExceedsEntry,
    EntryNotReversible,
    EntryNotFound,
    CursorExpired,
    WebhookEndpointNotFound,
    DatabaseUnavailable,
    CommitOutcomeUnknown,
    ServerBusy,
    LockTimeout,
    StatementTimeout,
    ShuttingDown,
    Unauthenticated,
    PermissionDenied,
    InternalError,
)

ERRORS_BY_REASON: dict[str, type[WalletError]] = {error.reason: error for error in ALL_ERRORS}

# The codes of the refusals a keyed request stores under its key (docs/errors.md): the outcome of the
# request itself, which a retry must see again, unlike a malformed request or a failure of the moment.
STORED_REFUSAL_CODES = frozenset({"FAILED_PRECONDITION", "NOT_FOUND"})
