"""The wallet domain: plain values and the pure rule that applies one entry.

No I/O here. Money is an int of minor units everywhere; nothing is a float.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

from server.errors import BalanceOverflow, InsufficientFunds

# Limits of the contract (wallet.proto documents the same numbers).
CUSTOMER_ID_LENGTH_MAX = 128
AMOUNT_MAX = 10**15
REASON_LENGTH_MAX = 1_000
IDEMPOTENCY_KEY_LENGTH_MAX = 255
METADATA_KEYS_MAX = 50
METADATA_KEY_LENGTH_MAX = 40
METADATA_VALUE_LENGTH_MAX = 500
BALANCE_MAX = 2**63 - 1


class EntryType(enum.Enum):
    """Direction of an entry; the value is what the database stores."""

    CREDIT = "credit"
    DEBIT = "debit"


@dataclass(frozen=True)
class EntryRequest:
    """A validated request to apply one entry (CreateLedgerEntry)."""

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
class Applied:
    """Outcome of a request: the entry, the wallet right after it, and whether it was replayed."""

    entry: Entry
    wallet: Wallet
    idempotent_replay: bool


def balance_after(balance: int, request: EntryRequest) -> int:
    """The balance once the entry applies; raises the refusal the rules demand.

    A debit may not take the balance below zero, and a credit may not take it
    beyond what a 64-bit column holds.
    """
    amount = request.amount
    assert balance >= 0 and amount > 0
    if request.entry_type is EntryType.DEBIT:
        if amount > balance:
            raise InsufficientFunds(balance=balance, amount=amount, currency=request.currency)
        return balance - amount
    if amount > BALANCE_MAX - balance:
        raise BalanceOverflow(balance=balance, amount=amount, currency=request.currency)
    return balance + amount
