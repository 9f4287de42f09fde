"""The exceptions a caller catches by name; `wallet_client.rpc_errors` maps a failed call to them.

The refusals of the hold calls are in `wallet_client.hold_errors`, those of
ReverseLedgerEntry in `wallet_client.reversal_errors`.

Every attribute is read from the details of the server's rich status (the
`ErrorInfo` metadata, the `BadRequest`), never parsed out of the message.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import grpc
from google.rpc import status_pb2


@dataclass(frozen=True)
class FieldViolation:
    """One field the server refused: its proto name and what is wrong with it."""

    field: str
    description: str


class WalletError(Exception):
    """Base of every error of the wallet client; keeps the gRPC status it came from.

    `idempotency_key` is the key a failed write was sent with: sending the same
    write again with that key can never apply it twice. `replayed` says the
    refusal is one stored under that key by an earlier attempt.
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
    def replayed(self) -> bool:
        """True when the server answered with a refusal it stored under this idempotency key earlier.

        A keyed write refused for a reason of its own (FAILED_PRECONDITION,
        NOT_FOUND) stays refused: sending it again with the same key gets the
        same error, marked by ErrorInfo metadata `replayed` = `true`, whatever
        changed since (a top-up included), and writes nothing. To try again,
        send it with a new key.
        """
        return self.metadata.get("replayed") == "true"

    @property
    def details(self) -> str:
        """The status message of the server (same as `message`; named like grpc's `details()`)."""
        return self.message

    def __str__(self) -> str:
        return self.message

    @classmethod
    def _from_status(cls, message: str, violations: tuple[FieldViolation, ...], fields: dict[str, Any]) -> WalletError:
        """This error, with the attributes its class reads from the status details."""
        return cls(message, **fields)


class InvalidRequest(WalletError):
    """INVALID_ARGUMENT: the request is malformed; sending it again fails again."""

    def __init__(self, message: str, *, violations: tuple[FieldViolation, ...], **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.violations = violations

    @classmethod
    def _from_status(cls, message: str, violations: tuple[FieldViolation, ...], fields: dict[str, Any]) -> WalletError:
        return cls(message, violations=violations, **fields)


class _BalanceRefusal(WalletError):
    """FAILED_PRECONDITION: a write the balance cannot take; nothing was written."""

    def __init__(self, message: str, *, balance: int, amount: int, currency: str, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.balance = balance
        self.amount = amount
        self.currency = currency

    @classmethod
    def _from_status(cls, message: str, violations: tuple[FieldViolation, ...], fields: dict[str, Any]) -> WalletError:
        metadata = fields["metadata"]
        balance, amount = metadata_int(metadata, "balance"), metadata_int(metadata, "amount")
        return cls(message, balance=balance, amount=amount, currency=metadata.get("currency", ""), **fields)


class InsufficientBalance(_BalanceRefusal):
    """FAILED_PRECONDITION / INSUFFICIENT_WALLET_FUNDS: a debit or hold exceeds the available balance.

    Nothing was written. `held_balance` is what active holds reserve and
    `available_balance` (balance - held_balance) what the write could use.
    """

    @property
    def held_balance(self) -> int:
        return metadata_int(self.metadata, "held_balance")

    @property
    def available_balance(self) -> int:
        return metadata_int(self.metadata, "available_balance", self.balance - self.held_balance)


class BalanceOverflow(_BalanceRefusal):
    """FAILED_PRECONDITION / BALANCE_OVERFLOW: a credit would exceed what a balance can hold."""


class IdempotencyKeyReused(WalletError):
    """ALREADY_EXISTS / IDEMPOTENCY_KEY_REUSED: the key was used before for a different request.

    Entries and holds share one key space: the original is the entry
    `entry_id` or the hold `hold_id` (the other is empty).
    """

    def __init__(self, message: str, *, entry_id: str, hold_id: str = "", **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.entry_id = entry_id
        self.hold_id = hold_id

    @classmethod
    def _from_status(cls, message: str, violations: tuple[FieldViolation, ...], fields: dict[str, Any]) -> WalletError:
        metadata = fields["metadata"]
        return cls(message, entry_id=metadata.get("entry_id", ""), hold_id=metadata.get("hold_id", ""), **fields)


class WalletUnavailable(WalletError):
    """UNAVAILABLE, DEADLINE_EXCEEDED or ABORTED, still so after the client's retries.

    The outcome of a write is unknown: send it again with `idempotency_key`.
    """


def metadata_int(metadata: Mapping[str, str], key: str, default: int = 0) -> int:
    """The whole number under `key` of an ErrorInfo's metadata, or `default`."""
    try:
        return int(metadata.get(key, ""))
    except ValueError:
        return default


class CursorExpired(WalletError):
    """FAILED_PRECONDITION / CURSOR_EXPIRED: the cursor is older than the retained events.

    Events after it are gone; `oldest_cursor` is where the retained ones begin.
    Watch again with `from_oldest=True`, knowing that some events were missed.
    """

    def __init__(self, message: str, *, cursor: str, oldest_cursor: str, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.cursor = cursor
        self.oldest_cursor = oldest_cursor

    @classmethod
    def _from_status(cls, message: str, violations: tuple[FieldViolation, ...], fields: dict[str, Any]) -> WalletError:
        metadata = fields["metadata"]
        return cls(
            message, cursor=metadata.get("cursor", ""), oldest_cursor=metadata.get("oldest_cursor", ""), **fields
        )


class AtomicBatchRefused(WalletError):
    """An atomic batch was refused as a whole: nothing of it was written.

    `index` is the position of the first entry that would have been refused,
    and `cause` the named error its own call would have raised at that point
    of the batch (InsufficientBalance, IdempotencyKeyReused, ...), as it saw
    the wallets after the entries before it. Code, reason and metadata are
    the cause's.
    """

    def __init__(self, cause: WalletError) -> None:
        super().__init__(
            cause.message,
            code=cause.code,
            reason=cause.reason,
            metadata=cause.metadata,
            status=cause.status,
            idempotency_key=cause.idempotency_key,
            attempts=cause.attempts,
        )
        self.cause = cause
        self.index = metadata_int(cause.metadata, "index", -1)
