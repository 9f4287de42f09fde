"""The read statements of reports: wallets as they stood at an instant, and a wallet's sums per bucket.

Both ride on `ledger_entries_wallet_time_idx` (customer, currency,
created_at, with entry_type and amount included): the balance as of an
instant is the last entry before it, one index probe; a summary reads the
entries of its range only, and from the index alone unless it breaks debits
down by metadata. Buckets are found in SQL with `width_bucket` over the
bounds the domain computed, so time zones and daylight saving are decided
once, in Python (`server.domain.periods`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import psycopg

from server.domain.limits import SUMMARY_TOP_VALUES
from server.domain.model import EntryType, Wallet
from server.domain.reports import BreakdownRow, BucketTotal, SummaryQuery, ValueGroup

# Every stored wallet of the customer as it stood at %(as_of)s: half-open, so an entry or hold event
# at exactly as_of is not counted yet. The version is the latest of the entries' and holds' versions
# before as_of (each records the wallet's version right after it).
_WALLETS_AS_OF = """
SELECT w.currency, w.created_at, e.after_balance, e.created_at, e.wallet_version,
       (SELECT coalesce(sum(h.amount), 0)::bigint FROM holds h
        WHERE h.customer_id = w.customer_id AND h.currency = w.currency
          AND h.created_at < %(as_of)s AND (h.closed_at IS NULL OR h.closed_at >= %(as_of)s)),
       (SELECT h.created_version FROM holds h
        WHERE h.customer_id = w.customer_id AND h.currency = w.currency AND h.created_at < %(as_of)s
        ORDER BY h.created_at DESC, h.created_version DESC LIMIT 1),
       (SELECT h.closed_version FROM holds h
        WHERE h.customer_id = w.customer_id AND h.currency = w.currency AND h.closed_at < %(as_of)s
        ORDER BY h.closed_at DESC, h.closed_version DESC LIMIT 1)
FROM wallets w
LEFT JOIN LATERAL (
    SELECT after_balance, created_at, wallet_version FROM ledger_entries
    WHERE customer_id = w.customer_id AND currency = w.currency AND created_at < %(as_of)s
    ORDER BY created_at DESC, seq DESC LIMIT 1
) e ON true
WHERE w.customer_id = %(customer_id)s AND w.created_at < %(as_of)s
ORDER BY w.currency
"""

# One snapshot for the opening balance and the sums, so that they agree even while the wallet is written.
_SNAPSHOT = "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY"

_BALANCE_BEFORE = """
SELECT after_balance FROM ledger_entries
WHERE customer_id = %(customer_id)s AND currency = %(currency)s AND created_at < %(start)s
ORDER BY created_at DESC, seq DESC LIMIT 1
"""

_RANGE = """
FROM ledger_entries
WHERE customer_id = %(customer_id)s AND currency = %(currency)s
  AND created_at >= %(start)s AND created_at < %(end)s"""

# width_bucket finds each entry's bucket by binary search over the bounds (1 is the first bucket).
_TOTALS = f"""
SELECT width_bucket(created_at, %(bounds)s::timestamptz[]) - 1, entry_type, sum(amount), count(*)
{_RANGE}
GROUP BY 1, 2
"""

# The reversals among them (refunds are credits, reclaims debits), from their own small partial index.
_REVERSAL_TOTALS = f"""
SELECT width_bucket(created_at, %(bounds)s::timestamptz[]) - 1, entry_type, sum(amount), count(*)
{_RANGE} AND reverses_entry_id IS NOT NULL
GROUP BY 1, 2
"""

# Per bucket, the breakdown rule of server.domain.reports (rank_breakdown), with its parameters from there:
# the top values by amount (ties by value, in code point order), the rest as one row, and the debits
# without the key (or with an empty value) as one row that does not compete. Ranked here, not in Python,
# so that a bucket sends at most SUMMARY_TOP_VALUES + 2 rows however many distinct values it holds.
_BREAKDOWN = f"""
WITH grouped AS (
    SELECT width_bucket(created_at, %(bounds)s::timestamptz[]) - 1 AS bucket,
           nullif(metadata ->> %(key)s, '') AS value, sum(amount) AS amount, count(*) AS debits
    {_RANGE} AND entry_type = 'debit' AND reverses_entry_id IS NULL
    GROUP BY 1, 2
), ranked AS (
    SELECT *, row_number() OVER (
        PARTITION BY bucket, value IS NULL ORDER BY amount DESC, value COLLATE "C"
    ) AS rank
    FROM grouped
)
SELECT bucket,
       CASE WHEN value IS NULL THEN {ValueGroup.NONE:d} WHEN rank <= {SUMMARY_TOP_VALUES:d} THEN {ValueGroup.NAMED:d}
            ELSE {ValueGroup.OTHER:d} END AS grp,
       CASE WHEN value IS NOT NULL AND rank <= {SUMMARY_TOP_VALUES:d} THEN value ELSE '' END AS shown,
       sum(amount), sum(debits)
FROM ranked
GROUP BY 1, 2, 3
"""

_ENTRY_TYPES = {entry_type.value: entry_type for entry_type in EntryType}


async def select_wallets_as_of(conn: psycopg.AsyncConnection[Any], customer_id: str, as_of: datetime) -> list[Wallet]:
    """The customer's wallets first written before `as_of`, each as it stood at `as_of`, by currency."""
    cursor = await conn.execute(_WALLETS_AS_OF, {"customer_id": customer_id, "as_of": as_of})
    wallets = []
    for (
        currency,
        created_at,
        balance,
        updated_at,
        entry_version,
        held,
        created_version,
        closed_version,
    ) in await cursor.fetchall():
        version = max(entry_version or 0, created_version or 0, closed_version or 0)
        wallets.append(Wallet(customer_id, currency, balance or 0, created_at, updated_at, held, version))
    return wallets


async def select_summary(
    conn: psycopg.AsyncConnection[Any], query: SummaryQuery
) -> tuple[int, list[BucketTotal], list[BreakdownRow]]:
    """The balance as of the query's start, its sums per bucket and type, and (if asked) its debits by value."""
    params = {
        "customer_id": query.customer_id,
        "currency": query.currency,
        "start": query.start,
        "end": query.end,
        "bounds": list(query.bounds),
        "key": query.group_by_metadata_key,
    }
    async with conn.transaction():
        await conn.execute(_SNAPSHOT)
        row = await (await conn.execute(_BALANCE_BEFORE, params)).fetchone()
        totals = [
            BucketTotal(bucket, _ENTRY_TYPES[entry_type], int(amount), count)
            for bucket, entry_type, amount, count in await (await conn.execute(_TOTALS, params)).fetchall()
        ]
        totals.extend(
            BucketTotal(bucket, _ENTRY_TYPES[entry_type], int(amount), count, reversals=True)
            for bucket, entry_type, amount, count in await (await conn.execute(_REVERSAL_TOTALS, params)).fetchall()
        )
        breakdown = []
        if query.group_by_metadata_key is not None:
            breakdown = [
                BreakdownRow(bucket, ValueGroup(group), value, int(amount), int(count))
                for bucket, group, value, amount, count in await (await conn.execute(_BREAKDOWN, params)).fetchall()
            ]
    return (0 if row is None else row[0]), totals, breakdown
