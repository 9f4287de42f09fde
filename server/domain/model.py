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

    def same_parameters_as(self, entry: Entry) -> bool:
        """True when a stored entry was created by an identical request."""
        return (
            entry.currency == self.currency
            and entry.entry_type is self.entry_type
            and entry.amount == self.amount
            and entry.reason == self.reason
            and dict(entry.metadata) == dict(self.metadata)
        )


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


@dataclass(frozen=True)
class Head:
    """A customer's ledger head: the last history position handed out and the time of that entry."""

    customer_id: str
    last_seq: int
    last_entry_at: datetime | None


@dataclass(frozen=True)
class Applied:
    """Outcome of a request: the entry, the wallet right after it, and whether it was replayed."""

    entry: Entry
    wallet: Wallet
    idempotent_replay: bool
