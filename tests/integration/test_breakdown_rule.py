"""The breakdown's ranking is said once in the domain (reports.rank_breakdown); the store's SQL agrees with it.

The store ranks a bucket's metadata values in SQL for speed (at most
SUMMARY_TOP_VALUES + 2 rows per bucket leave the database); on generated
debits (ties, empty values, debits without the key, more values than are
named, values outside ASCII) its rows are exactly the domain rule's.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from psycopg_pool import AsyncConnectionPool

from server.domain.reports import SummaryQuery, rank_breakdown
from server.store import report_reads
from tests.seeding import SeededEntry, seed_history

ORIGIN = datetime(2025, 6, 1, tzinfo=UTC)
BUCKETS = 3
BUCKET = timedelta(hours=1)
KEY = "model"

# None: the debit has no such key. Small amounts, so that sums tie (at the cut too); up to 28 named values
# in a bucket, so that more compete than are named; a few values outside ASCII, for the code-point order.
values = st.one_of(
    st.none(),
    st.just(""),
    st.text(alphabet="aAzZé☃😀", min_size=1, max_size=2),
)


@st.composite
def bucket_debits(draw: st.DrawFn, bucket: int) -> list[tuple[int, str | None, int]]:
    named = draw(st.integers(0, 28))
    moves: list[tuple[int, str | None, int]] = [
        (bucket, f"v{i:02d}", draw(st.integers(1, 3))) for i in range(named) for _ in range(draw(st.integers(1, 2)))
    ]
    moves += [(bucket, value, draw(st.integers(1, 3))) for value in draw(st.lists(values, max_size=8))]
    return draw(st.permutations(moves))


debits = st.tuples(*(bucket_debits(b) for b in range(BUCKETS))).map(lambda parts: [m for part in parts for m in part])


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(moves=debits)
async def test_the_stores_ranked_breakdown_is_the_domains_rule(
    pool: AsyncConnectionPool[psycopg.AsyncConnection[Any]],
    database_url: str,
    moves: list[tuple[int, str | None, int]],
) -> None:
    moves = moves or [(0, None, 1)]
    customer_id = f"cus_rank_{uuid.uuid4().hex[:12]}"
    history: list[SeededEntry] = [(ORIGIN - timedelta(minutes=1), "credit", 10_000, {})]
    for index, (bucket, value, amount) in enumerate(moves):
        at = ORIGIN + bucket * BUCKET + timedelta(seconds=index)
        history.append((at, "debit", amount, {} if value is None else {KEY: value}))
    seed_history(database_url, customer_id, sorted(history, key=lambda entry: entry[0]))
    bounds = tuple(ORIGIN + i * BUCKET for i in range(BUCKETS + 1))

    async with pool.connection() as conn:
        _, _, rows = await report_reads.select_summary(conn, SummaryQuery(customer_id, "USD", bounds, "UTC", KEY))

    expected = [
        row
        for bucket in range(BUCKETS)
        for row in rank_breakdown(bucket, [(value, amount) for b, value, amount in moves if b == bucket])
    ]
    assert sorted(rows) == sorted(expected)
