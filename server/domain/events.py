"""Wallet events: what each applied change tells its watchers, and the low-balance rule.

A change (one request, or the settling of a customer's due holds and credits)
records its events in its draft as it goes: an ENTRY_CREATED per entry, a
HOLD_* per hold created or closed. When the change is decided, `finish_change`
gives them the wallet as it stood right after the change and adds the
BALANCE_LOW or BALANCE_RECOVERED event of every wallet whose side of its
threshold the change moved. Events are written in the change's transaction
(the outbox), each with the customer's next event position.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

from server.domain.holds import Hold, HoldStatus
from server.domain.model import Entry, Wallet


class EventType(enum.Enum):
    """What an event reports; the value is what the database stores."""

    ENTRY_CREATED = "entry_created"
    HOLD_CREATED = "hold_created"
    HOLD_CAPTURED = "hold_captured"
    HOLD_RELEASED = "hold_released"
    HOLD_EXPIRED = "hold_expired"
    BALANCE_LOW = "balance_low"
    BALANCE_RECOVERED = "balance_recovered"


HOLD_EVENTS = {
    HoldStatus.ACTIVE: EventType.HOLD_CREATED,
    HoldStatus.CAPTURED: EventType.HOLD_CAPTURED,
    HoldStatus.RELEASED: EventType.HOLD_RELEASED,
    HoldStatus.EXPIRED: EventType.HOLD_EXPIRED,
}


class Event(NamedTuple):
    """One change of one wallet. `seq` orders a customer's events; `position` orders the whole stream.

    `position` is 0 until the sequencer has placed the committed event in the
    stream (`server.store.events`).
    """

    customer_id: str
    seq: int
    event_type: EventType
    currency: str
    occurred_at: datetime
    wallet: Wallet
    entry: Entry | None = None
    hold: Hold | None = None
    threshold: int = 0
    position: int = 0


@dataclass(frozen=True)
class WatchQuery:
    """A validated WatchEvents request. `start_after` is a stream position (None: not given)."""

    customer_id: str  # "" for every customer
    event_types: frozenset[EventType]  # empty for every type
    start_after: int | None
    from_oldest: bool


@dataclass(frozen=True)
class ThresholdRequest:
    """A validated SetLowBalanceThreshold request; 0 switches alerts off for the wallet."""

    customer_id: str
    currency: str
    threshold: int


@dataclass(frozen=True)
class ThresholdSet:
    """Outcome of a ThresholdRequest: the wallet with its new threshold."""

    wallet: Wallet


def threshold_of(wallet: Wallet, defaults: Mapping[str, int]) -> int:
    """The threshold in force: the wallet's own, else its currency's configured default (0: none)."""
    own = wallet.low_balance_threshold
    return own if own is not None else defaults.get(wallet.currency, 0)


def is_low(wallet: Wallet, defaults: Mapping[str, int]) -> bool:
    """A wallet is low while its threshold is above 0 and its available balance below it."""
    threshold = threshold_of(wallet, defaults)
    return threshold > 0 and wallet.available_balance < threshold


def crossing(before: Wallet, after: Wallet, defaults: Mapping[str, int]) -> EventType | None:
    """BALANCE_LOW or BALANCE_RECOVERED when a change moved the wallet across its threshold, else None."""
    was, now = is_low(before, defaults), is_low(after, defaults)
    if was == now:
        return None
    return EventType.BALANCE_LOW if now else EventType.BALANCE_RECOVERED
