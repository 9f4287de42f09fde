"""Wallets, balances and ledger entries as the client returns them, and the outcome of a credit or debit."""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Self, TypeVar

from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

from wallet.v1 import wallet_pb2

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

Model = TypeVar("Model", bound="DataclassInstance")


class ProtoEnum(enum.Enum):
    """An enum of the client whose members stand for the values of a proto enum, in both directions."""

    def to_proto(self) -> int:
        raise NotImplementedError

    @classmethod
    def from_proto(cls, value: int) -> Self:
        for member in cls:
            if member.to_proto() == value:
                return member
        raise ValueError(f"unknown {cls.__name__} {value}")


class EntryType(ProtoEnum):
    """Direction of a ledger entry. EXPIRATION entries are written by the service, never requested."""

    CREDIT = "credit"
    DEBIT = "debit"
    # Removes the unspent remainder of an expiring credit (`expired_entry_id`) at its expire_time.
    EXPIRATION = "expiration"

    def to_proto(self) -> wallet_pb2.EntryType.ValueType:
        return wallet_pb2.EntryType.Value(f"ENTRY_TYPE_{self.name}")


def aware(timestamp: Timestamp) -> datetime:
    return timestamp.ToDatetime(tzinfo=UTC)


def optional_time(message: Message, name: str) -> datetime | None:
    """The timestamp field `name` as an aware datetime, or None when it is unset."""
    return aware(getattr(message, name)) if message.HasField(name) else None


def from_message(cls: type[Model], message: Message, **converted: Any) -> Model:
    """A `cls` made of the message's fields of the same names: copied, or as `converted` gives them.

    Every field of `cls` is one of the message's: a field the message lacks
    fails here, in every test that reads one, rather than going unnoticed.
    """
    copied = {f.name: getattr(message, f.name) for f in fields(cls) if f.name not in converted}
    make: Callable[..., Model] = cls
    return make(**copied, **converted)


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
    # Reserved by active holds: still in `balance`, but no debit or new hold can use it.
    held_balance: int = 0
    # balance - held_balance: what a debit or a new hold may use.
    available_balance: int = 0
    # 0 for a wallet never written; grows with each change, so two snapshots can be ordered.
    version: int = 0
    # The wallet is low while this is above 0 and available_balance is below it: the wallet's own
    # threshold if one was set, else the service's default for the currency (0: no alerts).
    low_balance_threshold: int = 0

    @classmethod
    def from_proto(cls, message: wallet_pb2.Wallet) -> Wallet:
        return from_message(
            cls,
            message,
            created_at=optional_time(message, "created_at"),
            updated_at=optional_time(message, "updated_at"),
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
    """One immutable credit, debit or expiration; amounts and balances in minor units.

    `expire_time` is set on a credit that expires; `hold_id` on the debit of a
    captured hold; `expired_entry_id` on an EXPIRATION entry (the credit whose
    remainder it removed).
    """

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
    expire_time: datetime | None = None
    hold_id: str = ""
    expired_entry_id: str = ""
    # A refund or reclaim: the entry it reverses. A credit or debit: how much of it was reversed so far.
    reverses_entry_id: str = ""
    reversed_amount: int = 0

    @classmethod
    def from_proto(cls, message: wallet_pb2.LedgerEntry) -> LedgerEntry:
        return from_message(
            cls,
            message,
            entry_type=EntryType.from_proto(message.entry_type),
            created_at=aware(message.created_at),
            metadata=dict(message.metadata),
            expire_time=optional_time(message, "expire_time"),
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


@dataclass(frozen=True)
class ReversalResult:
    """Outcome of a reversal: the refund or reclaim entry, the entry it reversed, the wallet right after.

    `original.reversed_amount` is how much of the original is reversed now;
    `idempotent_replay` is True when this repeats an earlier reversal's key.
    """

    entry: LedgerEntry
    original: LedgerEntry
    wallet: Wallet
    idempotent_replay: bool

    @classmethod
    def from_proto(cls, message: wallet_pb2.ReverseLedgerEntryResponse) -> ReversalResult:
        return cls(
            entry=LedgerEntry.from_proto(message.entry),
            original=LedgerEntry.from_proto(message.original),
            wallet=Wallet.from_proto(message.wallet),
            idempotent_replay=message.idempotent_replay,
        )
