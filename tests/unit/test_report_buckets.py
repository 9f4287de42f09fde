"""Sums per bucket become balances: each bucket opens where the one before closed; breakdowns in order."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest

from server.domain.model import EntryType
from server.domain.reports import BreakdownRow, BucketTotal, MetadataAmount, ValueGroup, build_buckets

T0 = datetime(2025, 1, 1, tzinfo=UTC)
BOUNDS = [T0 + timedelta(days=n) for n in range(4)]


def test_buckets_chain_their_balances_and_a_bucket_without_entries_is_zeros() -> None:
    totals = [
        BucketTotal(0, EntryType.CREDIT, 100, 2),
        BucketTotal(0, EntryType.DEBIT, 30, 1),
        BucketTotal(2, EntryType.EXPIRATION, 20, 1),
        BucketTotal(2, EntryType.DEBIT, 5, 5),
    ]
    buckets = build_buckets(BOUNDS, 7, totals)
    assert [(b.opening_balance, b.credited, b.debited, b.expired, b.closing_balance) for b in buckets] == [
        (7, 100, 30, 0, 77),
        (77, 0, 0, 0, 77),
        (77, 0, 5, 20, 52),
    ]
    assert [(b.credit_count, b.debit_count, b.expiration_count) for b in buckets] == [(2, 1, 0), (0, 0, 0), (0, 5, 1)]
    assert [(b.start, b.end) for b in buckets] == list(itertools.pairwise(BOUNDS))


def test_a_breakdown_lists_values_by_amount_then_by_value_then_the_others_then_debits_without_one() -> None:
    rows = [
        BreakdownRow(0, ValueGroup.NONE, "", 50, 2),
        BreakdownRow(0, ValueGroup.OTHER, "", 3, 3),
        BreakdownRow(0, ValueGroup.NAMED, "b", 10, 1),
        BreakdownRow(0, ValueGroup.NAMED, "a", 10, 4),
        BreakdownRow(0, ValueGroup.NAMED, "z", 11, 1),
    ]
    (bucket,) = build_buckets(
        BOUNDS[:2],
        0,
        [BucketTotal(0, EntryType.CREDIT, 100, 1), BucketTotal(0, EntryType.DEBIT, 84, 11)],
        rows,
        grouped=True,
    )
    assert bucket.debits_by_metadata == (
        MetadataAmount("z", 11, 1),
        MetadataAmount("a", 10, 4),
        MetadataAmount("b", 10, 1),
        MetadataAmount("(other)", 3, 3),
        MetadataAmount("(none)", 50, 2),
    )


def test_a_breakdown_that_does_not_add_up_to_its_bucket_is_a_bug_caught_at_once() -> None:
    with pytest.raises(AssertionError):
        build_buckets(
            BOUNDS[:2],
            100,
            [BucketTotal(0, EntryType.DEBIT, 10, 1)],
            [BreakdownRow(0, ValueGroup.NAMED, "a", 9, 1)],
            grouped=True,
        )
