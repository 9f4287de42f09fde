"""What the client returns: frozen dataclasses with `int` minor units and timezone-aware datetimes.

Callers never see the generated protobuf messages, so the values can be
compared, logged and passed around without knowing about protobuf.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from google.protobuf.timestamp_pb2 import Timestamp

from wallet.v1 import wallet_pb2


class EntryType(enum.Enum):
    """Direction of a ledger entry."""

    CREDIT = "credit"
    DEBIT = "debit"

    def to_proto(self) -> wallet_pb2.EntryType.ValueType:
        return wallet_pb2.ENTRY_TYPE_CREDIT if self is EntryType.CREDIT else wallet_pb2.ENTRY_TYPE_DEBIT

    @classmethod
    def from_proto(cls, value: int) -> EntryType:
        if value == wallet_pb2.ENTRY_TYPE_CREDIT:
            return cls.CREDIT
        if value == wallet_pb2.ENTRY_TYPE_DEBIT:
            return cls.DEBIT
        raise ValueError(f"unknown entry type {value}")


def _aware(timestamp: Timestamp) -> datetime:
    return timestamp.ToDatetime(tzinfo=UTC)


@dataclass(frozen=True)
class Wallet:
    """A customer's balance in one currency, in minor units (cents for USD)."""

    customer_id: str
    currency: str
    balance: int
    # Digits of the minor unit (2 for USD): 10000 with exponent 2 is 100.00.
    minor_unit_exponent: int
    # None for a wallet that has never received an entry.
    created_at: datetime | None
    updated_at: datetime | None

    @classmethod
    def from_proto(cls, message: wallet_pb2.Wallet) -> Wallet:
        return cls(
            customer_id=message.customer_id,
            currency=message.currency,
            balance=message.balance,
            minor_unit_exponent=message.minor_unit_exponent,
            created_at=_aware(message.created_at) if message.HasField("created_at") else None,
            updated_at=_aware(message.updated_at) if message.HasField("updated_at") else None,
        )


@dataclass(frozen=True)
class Balances:
    """All wallets of a customer, ordered by currency; `balances["USD"]` is one of them."""

    customer_id: str
    wallets: tuple[Wallet, ...]

    def __getitem__(self, currency: str) -> Wallet:
        for wallet in self.wallets:
            if wallet.currency == currency:
                return wallet
        raise KeyError(currency)

    def __iter__(self) -> Iterator[Wallet]:
        return iter(self.wallets)

    def get(self, currency: str) -> Wallet | None:
        return next((w for w in self.wallets if w.currency == currency), None)

    @classmethod
    def from_proto(cls, message: wallet_pb2.GetBalancesResponse) -> Balances:
        return cls(message.customer_id, tuple(Wallet.from_proto(w) for w in message.wallets))


@dataclass(frozen=True)
class LedgerEntry:
    """One immutable credit or debit; amounts and balances in minor units."""

    id: str
    customer_id: str
    currency: str
    entry_type: EntryType
    amount: int
    before_balance: int
    after_balance: int
    reason: str
    idempotency_key: str
    created_at: datetime
    created_by: str = ""
    metadata: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_proto(cls, message: wallet_pb2.LedgerEntry) -> LedgerEntry:
        return cls(
            id=message.id,
            customer_id=message.customer_id,
            currency=message.currency,
            entry_type=EntryType.from_proto(message.entry_type),
            amount=message.amount,
            before_balance=message.before_balance,
            after_balance=message.after_balance,
            reason=message.reason,
            idempotency_key=message.idempotency_key,
            created_at=_aware(message.created_at),
            created_by=message.created_by,
            metadata=dict(message.metadata),
        )


@dataclass(frozen=True)
class EntryResult:
    """Outcome of a credit or debit: the entry and the wallet right after it.

    `idempotent_replay` is True when the server had already applied a request
    with this idempotency key (a retry, or a repeated call): nothing new was
    written and `entry` is the original one.
    """

    entry: LedgerEntry
    wallet: Wallet
    idempotent_replay: bool

    @classmethod
    def from_proto(cls, message: wallet_pb2.CreateLedgerEntryResponse) -> EntryResult:
        return cls(
            entry=LedgerEntry.from_proto(message.entry),
            wallet=Wallet.from_proto(message.wallet),
            idempotent_replay=message.idempotent_replay,
        )
