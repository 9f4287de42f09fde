"""The refusals of ReverseLedgerEntry, by name (`wallet_client.rpc_errors` maps them)."""

from __future__ import annotations

from typing import Any

from wallet_client.errors import FieldViolation, WalletError


def _int(metadata: dict[str, str], key: str) -> int:
    try:
        return int(metadata.get(key, ""))
    except ValueError:
        return 0


class ReversalExceedsEntry(WalletError):
    """FAILED_PRECONDITION / REVERSAL_EXCEEDS_ENTRY: more was asked than the entry has left to reverse.

    `reversible` is what may be reversed now (0 when nothing): for a debit,
    what was not refunded yet; for a credit, what of it is unspent and unheld.
    """

    def __init__(self, message: str, *, entry_id: str, amount: int, reversible: int, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.entry_id = entry_id
        self.amount = amount
        self.reversible = reversible

    @classmethod
    def _from_status(cls, message: str, violations: tuple[FieldViolation, ...], fields: dict[str, Any]) -> WalletError:
        metadata = fields["metadata"]
        return cls(
            message,
            entry_id=metadata.get("entry_id", ""),
            amount=_int(metadata, "amount"),
            reversible=_int(metadata, "reversible"),
            **fields,
        )


class _EntryRefusal(WalletError):
    """A refusal about one entry, named by `entry_id`."""

    def __init__(self, message: str, *, entry_id: str, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.entry_id = entry_id

    @classmethod
    def _from_status(cls, message: str, violations: tuple[FieldViolation, ...], fields: dict[str, Any]) -> WalletError:
        return cls(message, entry_id=fields["metadata"].get("entry_id", ""), **fields)


class EntryNotReversible(_EntryRefusal):
    """FAILED_PRECONDITION / ENTRY_NOT_REVERSIBLE: an expiration, or itself a reversal."""


class EntryNotFound(_EntryRefusal):
    """NOT_FOUND / ENTRY_NOT_FOUND: the id is not one of this customer's entries."""
