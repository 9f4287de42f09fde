"""The wallet's values: requests, wallets, entries and outcomes. No I/O and no rules.

Money is an int of minor units everywhere; nothing is a float.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple


class EntryType(enum.Enum):
    """Direction of an entry; the value is what the database stores."""

    CREDIT = "credit"
    DEBIT = "debit"
    # Written by the server when an expiring credit's unspent remainder lapses.
    EXPIRATION = "expiration"


@dataclass(frozen=True)
class EntryRequest:
    """A validated request to apply one entry (CreateLedgerEntry); `created_by` is the caller."""

    customer_id: str
    currency: str
    entry_type: EntryType
    amount: int
    reason: str
    idempotency_key: str
    metadata: Mapping[str, str]
    created_by: str = ""
    # Credits only: when the unspent remainder expires (None: never).
    expire_time: datetime | None = None

    def same_parameters_as(self, entry: Entry) -> bool:
        """True when a stored entry was created by an identical request."""
        return (
            entry.currency == self.currency
            and entry.entry_type is self.entry_type
            and entry.amount == self.amount
            and entry.reason == self.reason
            and dict(entry.metadata) == dict(self.metadata)
            and entry.expire_time == self.expire_time
            and not entry.reverses_entry_id
        )


@dataclass(frozen=True)
class ReversalRequest:
    """A validated ReverseLedgerEntry request; `amount` 0 means everything reversible now."""

    customer_id: str
    entry_id: str
    amount: int
    reason: str
    idempotency_key: str
    metadata: Mapping[str, str]
    created_by: str = ""


@dataclass(frozen=True)
class HistoryQuery:
    """A validated ListLedgerEntries request; `limit` 0 means no limit."""

    customer_id: str
    currency: str | None
    entry_type: EntryType | None
    created_after: datetime | None
    created_before: datetime | None
    start_after_id: str | None
    limit: int
    newest_first: bool


class Wallet(NamedTuple):
    """A customer's balance in one currency. Times are None until first written.

    Wallet and Entry are named tuples rather than dataclasses: a history export
    builds millions of them, and a tuple costs a fraction of a frozen dataclass.
    """

    customer_id: str
    currency: str
    balance: int
    created_at: datetime | None
    updated_at: datetime | None
    # The sum of the wallet's active holds; never more than the balance.
    held_balance: int = 0
    # One more for each entry of the wallet and each hold created, released or expired.
    version: int = 0
    # The wallet's own low-balance threshold; None: its currency's configured default.
    low_balance_threshold: int | None = None

    @property
    def available_balance(self) -> int:
        """What a debit or a new hold may use."""
        return self.balance - self.held_balance


class Entry(NamedTuple):
    """An immutable ledger entry; `seq` is its position in the customer's history."""

    id: str
    customer_id: str
    seq: int
    currency: str
    entry_type: EntryType
    amount: int
    before_balance: int
    after_balance: int
    reason: str
    idempotency_key: str
    metadata: Mapping[str, str]
    created_at: datetime
    created_by: str
    # Expiring credits: when the remainder lapses. Captures: the hold. Expirations: the credit.
    expire_time: datetime | None = None
    hold_id: str = ""
    expired_entry_id: str = ""
    # The wallet's version and held balance right after the entry (a replay shows the wallet as it stood).
    wallet_version: int = 0
    wallet_held: int = 0
    # A reversal: the entry it reverses. A credit or debit: the sum of its reversals as of the read.
    reverses_entry_id: str = ""
    reversed_amount: int = 0


@dataclass(frozen=True)
class Lot:
    """The unspent remainder of an expiring credit, and how much of it active holds reserve.

    Credits that never expire need no lot: they are one pool per wallet, spent
    oldest first, whose remainder is the balance less every lot's remainder.
    """

    customer_id: str
    currency: str
    credit_seq: int
    credit_id: str
    expire_time: datetime
    # The credit's amount, what is left of it, and how much of that active holds reserve.
    amount: int
    remaining: int
    held: int

    @property
    def available(self) -> int:
        return self.remaining - self.held


@dataclass(frozen=True)
class Return:
    """Money a refund gave back to an expiring credit's lot (the reverse of a `Draw`)."""

    customer_id: str
    entry_seq: int
    credit_seq: int
    amount: int


@dataclass(frozen=True)
class Draw:
    """Money an entry (debit, capture, expiration) took from an expiring credit's lot."""

    customer_id: str
    entry_seq: int
    credit_seq: int
    amount: int


class Head(NamedTuple):
    """A customer's ledger head: the last history position handed out, the time of that entry, the last event.

    A named tuple: every entry of a batch makes a new one.
    """

    customer_id: str
    last_seq: int
    last_entry_at: datetime | None
    # The position of the customer's last event (its events' own order).
    last_event_seq: int = 0


@dataclass(frozen=True)
class Applied:
    """Outcome of a request: the entry, the wallet right after it, and whether it was replayed."""

    entry: Entry
    wallet: Wallet
    idempotent_replay: bool


@dataclass(frozen=True)
class Reversed:
    """Outcome of a reversal: its entry, the entry it reversed (with its reversals so far), the wallet after."""

    entry: Entry
    original: Entry
    wallet: Wallet
    idempotent_replay: bool
