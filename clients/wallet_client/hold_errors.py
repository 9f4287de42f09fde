"""The refusals of the hold calls (CreateHold, CaptureHold, ReleaseHold, GetHold), by name.

`wallet_client.rpc_errors` maps them; every attribute is read from the
`ErrorInfo` metadata of the server's rich status.
"""

from __future__ import annotations

from typing import Any

from wallet_client.errors import FieldViolation, WalletError, metadata_int
from wallet_client.models import HoldStatus


class HoldNotFound(WalletError):
    """NOT_FOUND / HOLD_NOT_FOUND: `hold_id` is not one of this customer's holds."""

    def __init__(self, message: str, *, hold_id: str, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.hold_id = hold_id

    @classmethod
    def _from_status(cls, message: str, violations: tuple[FieldViolation, ...], fields: dict[str, Any]) -> WalletError:
        return cls(message, hold_id=fields["metadata"].get("hold_id", ""), **fields)


class HoldNotActive(WalletError):
    """FAILED_PRECONDITION / HOLD_NOT_ACTIVE: the hold is already captured, released or expired.

    `hold_status` says which (None if the server named a status this client
    does not know; `.status` is the rich gRPC status, as on every error).
    Repeating the very capture or release that closed the hold is not this
    error: it replays.
    """

    def __init__(self, message: str, *, hold_id: str, hold_status: HoldStatus | None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.hold_id = hold_id
        self.hold_status = hold_status

    @classmethod
    def _from_status(cls, message: str, violations: tuple[FieldViolation, ...], fields: dict[str, Any]) -> WalletError:
        metadata = fields["metadata"]
        name = metadata.get("status", "").removeprefix("HOLD_STATUS_")
        hold_status = HoldStatus[name] if name in HoldStatus.__members__ else None
        return cls(message, hold_id=metadata.get("hold_id", ""), hold_status=hold_status, **fields)


class CaptureExceedsHold(WalletError):
    """FAILED_PRECONDITION / CAPTURE_EXCEEDS_HOLD: a capture of `amount` asks for more than `hold_amount`."""

    def __init__(self, message: str, *, hold_id: str, amount: int, hold_amount: int, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.hold_id = hold_id
        self.amount = amount
        self.hold_amount = hold_amount

    @classmethod
    def _from_status(cls, message: str, violations: tuple[FieldViolation, ...], fields: dict[str, Any]) -> WalletError:
        metadata = fields["metadata"]
        amount, hold_amount = metadata_int(metadata, "amount"), metadata_int(metadata, "hold_amount")
        return cls(message, hold_id=metadata.get("hold_id", ""), amount=amount, hold_amount=hold_amount, **fields)
