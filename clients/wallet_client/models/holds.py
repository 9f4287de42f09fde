"""Holds as the client returns them, and the outcomes of hold, capture, release and a page of holds."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from wallet.v1 import wallet_pb2
from wallet_client.models.ledger import LedgerEntry, ProtoEnum, Wallet, aware, from_message, optional_time


class HoldStatus(ProtoEnum):
    """Where a hold is in its life; only an ACTIVE hold reserves money."""

    ACTIVE = "active"
    CAPTURED = "captured"
    RELEASED = "released"
    EXPIRED = "expired"

    def to_proto(self) -> wallet_pb2.HoldStatus.ValueType:
        return wallet_pb2.HoldStatus.Value(f"HOLD_STATUS_{self.name}")


@dataclass(frozen=True)
class Hold:
    """A reservation of part of a wallet's available balance; amounts in minor units.

    `captured_amount` and `capture_entry_id` are set once CAPTURED; `closed_at`
    once captured, released or expired (None while ACTIVE).
    """

    id: str
    customer_id: str
    currency: str
    amount: int
    status: HoldStatus
    captured_amount: int
    capture_entry_id: str
    reason: str
    idempotency_key: str
    metadata: Mapping[str, str]
    created_at: datetime
    # When an ACTIVE hold lapses by itself: created_at plus its ttl.
    expire_time: datetime
    closed_at: datetime | None
    created_by: str = ""

    @classmethod
    def from_proto(cls, message: wallet_pb2.Hold) -> Hold:
        return from_message(
            cls,
            message,
            status=HoldStatus.from_proto(message.status),
            metadata=dict(message.metadata),
            created_at=aware(message.created_at),
            expire_time=aware(message.expire_time),
            closed_at=optional_time(message, "closed_at"),
        )


@dataclass(frozen=True)
class HoldResult:
    """Outcome of a hold or a release: the hold and the wallet right after the call.

    `idempotent_replay` is True when nothing new was written: a hold whose
    idempotency key was already used (the hold as it is now), or a release
    repeated.
    """

    hold: Hold
    wallet: Wallet
    idempotent_replay: bool

    @classmethod
    def from_proto(cls, message: wallet_pb2.CreateHoldResponse | wallet_pb2.ReleaseHoldResponse) -> HoldResult:
        return cls(Hold.from_proto(message.hold), Wallet.from_proto(message.wallet), message.idempotent_replay)


@dataclass(frozen=True)
class CaptureResult:
    """Outcome of a capture: the CAPTURED hold, its DEBIT entry, and the wallet right after.

    `idempotent_replay` is True when the call repeated the capture that closed the hold.
    """

    hold: Hold
    entry: LedgerEntry
    wallet: Wallet
    idempotent_replay: bool

    @classmethod
    def from_proto(cls, message: wallet_pb2.CaptureHoldResponse) -> CaptureResult:
        return cls(
            hold=Hold.from_proto(message.hold),
            entry=LedgerEntry.from_proto(message.entry),
            wallet=Wallet.from_proto(message.wallet),
            idempotent_replay=message.idempotent_replay,
        )


@dataclass(frozen=True)
class HoldPage:
    """One page of `list_holds_page`, newest first; `next_page_token` is empty on the last page."""

    holds: tuple[Hold, ...]
    next_page_token: str

    @property
    def items(self) -> tuple[Hold, ...]:
        """The holds, under the name every page gives its items."""
        return self.holds

    @classmethod
    def from_proto(cls, message: wallet_pb2.ListHoldsResponse) -> HoldPage:
        return cls(tuple(Hold.from_proto(h) for h in message.holds), message.next_page_token)
