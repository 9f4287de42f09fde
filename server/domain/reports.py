"""Ledger summaries: the request, the buckets, and how sums per bucket become balances. Pure values.

The store sums each bucket's entries by type (and a bucket's debits by a
metadata value); `build_buckets` chains them from the balance as of the
range's start, so that each bucket opens where the one before it closed and
opening + credited - debited - expired = closing holds in every one.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

from server.domain.limits import SUMMARY_NO_VALUE, SUMMARY_OTHER_VALUES, SUMMARY_TOP_VALUES
from server.domain.model import EntryType


@dataclass(frozen=True)
class SummaryQuery:
    """A validated SummarizeLedger request; `bounds` cut the range into buckets (start, cuts..., end)."""

    customer_id: str
    currency: str
    bounds: tuple[datetime, ...]
    time_zone: str
    group_by_metadata_key: str | None = None

    @property
    def start(self) -> datetime:
        return self.bounds[0]

    @property
    def end(self) -> datetime:
        return self.bounds[-1]


class ValueGroup(enum.IntEnum):
    """Which row of a breakdown: one named value, the other values together, or debits without a value."""

    NAMED = 0
    OTHER = 1
    NONE = 2


class BucketTotal(NamedTuple):
    """The sum and count of one entry type in one bucket (index 0 is the first bucket)."""

    bucket: int
    entry_type: EntryType
    amount: int
    entries: int
    # True: the sum of the reversals of that type only (refunds are credits, reclaims debits), which the
    # totals of all entries of the type include too.
    reversals: bool = False


class BreakdownRow(NamedTuple):
    """The debits of one metadata value (or group of values) in one bucket."""

    bucket: int
    group: ValueGroup
    value: str
    amount: int
    debits: int


class MetadataAmount(NamedTuple):
    """A breakdown row as shown: the value (or its group's label), the sum and the count of its debits."""

    value: str
    amount: int
    debits: int


@dataclass(frozen=True)
class SummaryBucket:
    """One period of a summary; amounts in minor units."""

    start: datetime
    end: datetime
    opening_balance: int
    closing_balance: int
    credited: int = 0
    debited: int = 0
    expired: int = 0
    credit_count: int = 0
    debit_count: int = 0
    expiration_count: int = 0
    debits_by_metadata: tuple[MetadataAmount, ...] = ()
    refunded: int = 0
    reclaimed: int = 0
    refund_count: int = 0
    reclaim_count: int = 0


@dataclass(frozen=True)
class Summary:
    """The buckets of a summary in time order, and the query they answer."""

    query: SummaryQuery
    buckets: tuple[SummaryBucket, ...]


_LABELS = {ValueGroup.OTHER: SUMMARY_OTHER_VALUES, ValueGroup.NONE: SUMMARY_NO_VALUE}

# The breakdown's ranking rule, said here: in each bucket the debits are summed per metadata value; the
# SUMMARY_TOP_VALUES values with the largest sums are named, ties broken by the value in code-point order
# (`rank_key`); the other values are summed as one row; debits without the key, or with an empty value, are
# one more row that does not compete. `rank_breakdown` is the rule in full. The store applies the same rule
# in SQL (store/report_reads.py: ORDER BY sum DESC, value COLLATE "C", rank <= SUMMARY_TOP_VALUES) because a
# bucket may hold any number of distinct values (an order id per debit): ranked in the database, it sends at
# most SUMMARY_TOP_VALUES + 2 rows per bucket instead of one per value. A test checks that the two agree
# (tests/integration/test_breakdown_rule.py).


def rank_key(value: str, amount: int) -> tuple[int, str]:
    """Where a value with debits summing to `amount` ranks in its bucket: the largest sum first, then by value."""
    return -amount, value


def rank_breakdown(bucket: int, debits: Iterable[tuple[str | None, int]]) -> list[BreakdownRow]:
    """One bucket's breakdown rows from its debits, each (metadata value or None, amount), by the rule above."""
    sums: dict[str | None, tuple[int, int]] = {}
    for value, amount in debits:
        total, count = sums.get(value or None, (0, 0))
        sums[value or None] = (total + amount, count + 1)
    without = sums.pop(None, None)
    ranked = sorted(((v, a, n) for v, (a, n) in sums.items() if v is not None), key=lambda r: rank_key(r[0], r[1]))
    rows = [BreakdownRow(bucket, ValueGroup.NAMED, v, a, n) for v, a, n in ranked[:SUMMARY_TOP_VALUES]]
    rest = ranked[SUMMARY_TOP_VALUES:]
    if rest:
        rows.append(BreakdownRow(bucket, ValueGroup.OTHER, "", sum(a for _, a, _ in rest), sum(n for *_, n in rest)))
    if without is not None:
        rows.append(BreakdownRow(bucket, ValueGroup.NONE, "", *without))
    return rows


def _ordered(rows: Iterable[BreakdownRow]) -> tuple[MetadataAmount, ...]:
    """Named values in rank order, then the other values, then the debits without one."""
    ordered = sorted(rows, key=lambda r: (r.group, rank_key(r.value, r.amount if r.group is ValueGroup.NAMED else 0)))
    return tuple(MetadataAmount(_LABELS.get(r.group, r.value), r.amount, r.debits) for r in ordered if r.debits)


def _less(all_of_type: tuple[int, int], reversals: tuple[int, int]) -> tuple[int, int]:
    """The sum and count of a type's entries less its reversals'."""
    return all_of_type[0] - reversals[0], all_of_type[1] - reversals[1]


def build_buckets(
    bounds: Sequence[datetime],
    opening_balance: int,
    totals: Iterable[BucketTotal],
    breakdown: Iterable[BreakdownRow] = (),
    *,
    grouped: bool = False,
) -> tuple[SummaryBucket, ...]:
    """The buckets between consecutive `bounds`, each opening with the balance the one before closed with."""
    count = len(bounds) - 1
    assert count >= 1 and opening_balance >= 0
    sums: list[dict[tuple[EntryType, bool], tuple[int, int]]] = [{} for _ in range(count)]
    for total in totals:
        sums[total.bucket][(total.entry_type, total.reversals)] = (total.amount, total.entries)
    rows: list[list[BreakdownRow]] = [[] for _ in range(count)]
    for row in breakdown:
        rows[row.bucket].append(row)
    buckets: list[SummaryBucket] = []
    balance = opening_balance
    for index in range(count):
        refunded, refund_count = sums[index].get((EntryType.CREDIT, True), (0, 0))
        reclaimed, reclaim_count = sums[index].get((EntryType.DEBIT, True), (0, 0))
        credited, credit_count = _less(sums[index].get((EntryType.CREDIT, False), (0, 0)), (refunded, refund_count))
        debited, debit_count = _less(sums[index].get((EntryType.DEBIT, False), (0, 0)), (reclaimed, reclaim_count))
        expired, expiration_count = sums[index].get((EntryType.EXPIRATION, False), (0, 0))
        closing = balance + credited - debited - expired + refunded - reclaimed
        assert closing >= 0, (index, balance, credited, debited, expired)
        by_value = _ordered(rows[index]) if grouped else ()
        assert not grouped or (sum(r.amount for r in by_value), sum(r.debits for r in by_value)) == (
            debited,
            debit_count,
        )
        buckets.append(
            SummaryBucket(
                bounds[index],
                bounds[index + 1],
                balance,
                closing,
                credited,
                debited,
                expired,
                credit_count,
                debit_count,
                expiration_count,
                by_value,
                refunded,
                reclaimed,
                refund_count,
                reclaim_count,
            )
        )
        balance = closing
    return tuple(buckets)
