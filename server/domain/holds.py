"""Holds: reservations of a wallet's available balance, and the requests that make and close them."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from server.domain.model import Entry, Wallet

# A hold's reservation of the non-expiring pool (no credit has position 0).
POOL = 0


class HoldStatus(enum.Enum):
    """Where a hold is in its life; the value is what the database stores."""

    ACTIVE = "active"
    CAPTURED = "captured"
    RELEASED = "released"
    EXPIRED = "expired"


@dataclass(frozen=True)
class Hold:
    """A reservation; `reservations` says which credits it holds: (credit_seq or POOL, amount)."""

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
    expire_time: datetime
    closed_at: datetime | None
    created_by: str
    ttl: timedelta
    reservations: tuple[tuple[int, int], ...]
    # The wallet's version right after the hold was made, and right after it closed (None while active):
    # with the entries' versions, what a wallet's version was at any instant (GetBalances as_of).
    created_version: int = 0
    closed_version: int | None = None

    def as_created(self) -> Hold:
        """The hold as it stood when it was created: active, nothing captured."""
        return replace(self, status=HoldStatus.ACTIVE, captured_amount=0, capture_entry_id="", closed_at=None)


@dataclass(frozen=True)
class HoldRequest:
    """A validated CreateHold request; `ttl` is already resolved (the default applied)."""

    customer_id: str
    currency: str
    amount: int
    reason: str
    idempotency_key: str
    metadata: Mapping[str, str]
    ttl: timedelta
    created_by: str = ""

    def same_parameters_as(self, hold: Hold) -> bool:
        return (
            hold.currency == self.currency
            and hold.amount == self.amount
            and hold.reason == self.reason
            and dict(hold.metadata) == dict(self.metadata)
            and hold.ttl == self.ttl
        )


@dataclass(frozen=True)
class CaptureRequest:
    """A validated CaptureHold request; `amount` 0 means the hold's whole amount."""

    customer_id: str
    hold_id: str
    amount: int
    reason: str
    metadata: Mapping[str, str]
    created_by: str = ""


@dataclass(frozen=True)
class ReleaseRequest:
    """A validated ReleaseHold request."""

    customer_id: str
    hold_id: str


@dataclass(frozen=True)
class SettleRequest:
    """Post whatever fell due for the customer (expired holds and credits), and nothing else."""

    customer_id: str


@dataclass(frozen=True)
class HoldOutcome:
    """A hold operation's result: the hold, the capture's entry if any, the wallet after the call."""

    hold: Hold
    wallet: Wallet
    idempotent_replay: bool
    entry: Entry | None = None


@dataclass(frozen=True)
class HoldQuery:
    """A validated ListHolds request; `before` is the page token's position (newest first)."""

    customer_id: str
    currency: str | None
    status: HoldStatus | None
    page_size: int
    before: tuple[datetime, str] | None
