"""Ledger summaries as the client returns them: buckets of credits, debits and expirations per period."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from wallet.v1 import wallet_pb2
from wallet_client.models.ledger import ProtoEnum, aware, from_message

# The labels of a breakdown's last rows: the values beyond the top 20, and debits without the key.
OTHER_VALUES = "(other)"
NO_VALUE = "(none)"


class Period(ProtoEnum):
    """The calendar period a summary is cut into, local to its time zone (None: one bucket for the range)."""

    HOUR = "hour"
    DAY = "day"
    WEEK = "week"
    MONTH = "month"

    def to_proto(self) -> wallet_pb2.Period.ValueType:
        return wallet_pb2.Period.Value(f"PERIOD_{self.name}")


@dataclass(frozen=True)
class MetadataBreakdown:
    """The debits of one metadata value in a bucket (or of OTHER_VALUES, or of NO_VALUE)."""

    value: str
    amount: int
    count: int

    @classmethod
    def from_proto(cls, message: wallet_pb2.MetadataBreakdown) -> MetadataBreakdown:
        return from_message(cls, message)


@dataclass(frozen=True)
class SummaryBucket:
    """One period: [start_time, end_time), its opening and closing balances and what moved them (minor units)."""

    start_time: datetime
    end_time: datetime
    opening_balance: int
    closing_balance: int
    credited: int
    debited: int
    expired: int
    credit_count: int
    debit_count: int
    expiration_count: int
    # Only when the summary was grouped by a metadata key: largest values first, then (other), then (none).
    debits_by_metadata: tuple[MetadataBreakdown, ...] = ()
    # Reversals, counted apart: opening + credited - debited - expired + refunded - reclaimed = closing.
    refunded: int = 0
    reclaimed: int = 0
    refund_count: int = 0
    reclaim_count: int = 0

    @classmethod
    def from_proto(cls, message: wallet_pb2.LedgerSummaryBucket) -> SummaryBucket:
        return from_message(
            cls,
            message,
            start_time=aware(message.start_time),
            end_time=aware(message.end_time),
            debits_by_metadata=tuple(MetadataBreakdown.from_proto(m) for m in message.debits_by_metadata),
        )


@dataclass(frozen=True)
class LedgerSummary:
    """A wallet's buckets in time order, tiling the range asked for; iterate it for the buckets."""

    customer_id: str
    currency: str
    time_zone: str
    minor_unit_exponent: int
    buckets: tuple[SummaryBucket, ...]

    def __iter__(self) -> Iterator[SummaryBucket]:
        return iter(self.buckets)

    def __len__(self) -> int:
        return len(self.buckets)

    @classmethod
    def from_proto(cls, message: wallet_pb2.SummarizeLedgerResponse) -> LedgerSummary:
        return from_message(cls, message, buckets=tuple(SummaryBucket.from_proto(b) for b in message.buckets))
