"""The bucket invariants of a ledger summary over random histories, against the real database.

Whatever the history, range, period and zone: the buckets tile the range,
each opens where the one before closed (the first with the balance as of the
start), opening + credited - debited - expired = closing, every entry is
counted in the bucket its time falls in, and a breakdown sums to its bucket.
"""

from __future__ import annotations

import bisect
import itertools
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from psycopg_pool import AsyncConnectionPool

from server.config import Settings
from server.domain.periods import Period, bucket_bounds
from server.domain.reports import SummaryQuery
from server.ledger import Ledger
from tests.seeding import SeededEntry, seed_history

ORIGIN = datetime(2025, 3, 25, tzinfo=UTC)  # Berlin and New York change clocks within the window
WINDOW_MINUTES = 10 * 24 * 60

moves = st.lists(
    st.tuples(
        st.integers(0, WINDOW_MINUTES),
        st.sampled_from(["credit", "debit", "debit", "expiration"]),
        st.integers(1, 500),
        st.sampled_from([None, "", "gpt", "claude", "llama"]),
    ),
    min_size=1,
    max_size=25,
)


def history_of(raw: list[tuple[int, str, int, str | None]]) -> list[SeededEntry]:
    """A valid history: moves in time order, debits capped at the balance (or dropped), expirations backed."""
    entries: list[SeededEntry] = []
    balance = 0
    for minute, kind, amount, model in sorted(raw, key=lambda move: move[0]):
        at = ORIGIN + timedelta(minutes=minute)
        if kind == "expiration":
            # An expiring credit that lapses whole at once, as the seeding wants it (tests.seeding).
            entries += [(at, "credit", amount, {}), (at, "expiration", amount, {})]
            continue
        if kind == "debit":
            amount = min(amount, balance)
            if amount == 0:
                continue
        balance += amount if kind == "credit" else -amount
        entries.append((at, kind, amount, {} if model is None else {"model": model}))
    return entries or [(ORIGIN, "credit", 1, {})]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    raw=moves,
    start_minute=st.integers(-600, WINDOW_MINUTES),
    length_minutes=st.integers(1, WINDOW_MINUTES),
    period=st.sampled_from(list(Period)),
    zone_name=st.sampled_from(["UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata"]),
    grouped=st.booleans(),
)
async def test_buckets_tile_the_range_chain_their_balances_and_count_every_entry_once(
    pool: AsyncConnectionPool[psycopg.AsyncConnection[Any]],
    database_url: str,
    raw: list[tuple[int, str, int, str | None]],
    start_minute: int,
    length_minutes: int,
    period: Period,
    zone_name: str,
    grouped: bool,
) -> None:
    customer_id = f"cus_prop_{uuid.uuid4().hex[:12]}"
    history = history_of(raw)
    seed_history(database_url, customer_id, history)
    start = ORIGIN + timedelta(minutes=start_minute)
    end = start + timedelta(minutes=length_minutes)
    bounds = tuple(bucket_bounds(start, end, period, ZoneInfo(zone_name)))
    query = SummaryQuery(customer_id, "USD", bounds, zone_name, "model" if grouped else None)

    summary = await Ledger(pool, Settings()).summarize(query)

    buckets = summary.buckets
    assert [(b.start, b.end) for b in buckets] == list(itertools.pairwise(bounds))
    sign = {"credit": 1, "debit": -1, "expiration": -1}
    assert buckets[0].opening_balance == sum(sign[k] * a for at, k, a, _ in history if at < start)
    expected: list[dict[str, list[int]]] = [{k: [0, 0] for k in sign} for _ in buckets]
    for at, kind, amount, _ in history:
        if start <= at < end:
            sums = expected[bisect.bisect_right(bounds, at) - 1][kind]
            sums[0] += amount
            sums[1] += 1
    for index, bucket in enumerate(buckets):
        if index:
            assert bucket.opening_balance == buckets[index - 1].closing_balance
        assert bucket.closing_balance == bucket.opening_balance + bucket.credited - bucket.debited - bucket.expired
        assert (bucket.credited, bucket.credit_count) == tuple(expected[index]["credit"])
        assert (bucket.debited, bucket.debit_count) == tuple(expected[index]["debit"])
        assert (bucket.expired, bucket.expiration_count) == tuple(expected[index]["expiration"])
        rows = bucket.debits_by_metadata
        if grouped:
            assert (sum(r.amount for r in rows), sum(r.debits for r in rows)) == (bucket.debited, bucket.debit_count)
            assert all(r.debits > 0 for r in rows)
        else:
            assert rows == ()
    assert buckets[-1].closing_balance == sum(sign[k] * a for at, k, a, _ in history if at < end)
