"""Data the scenarios start from, written by direct SQL (not through the API) in seconds.

Every seeded row obeys the ledger's invariants: each wallet's balance equals
the sum of its entries, each customer's entries form a contiguous seq and an
unbroken before/after chain, and the head row knows the last seq. So the
service can write on top of them, and `check_consistency` can verify
everything afterwards.
"""

from __future__ import annotations

from typing import Any

import psycopg

# Start balance of every seeded wallet: random ±100 steps never reach zero.
WALLET_START_BALANCE = 1_000_000_000
# The hot wallet is debited only: it starts rich enough for any run.
HOT_START_BALANCE = 10**13


def seed_customers(url: str, prefix: str, count: int, balance: int = WALLET_START_BALANCE) -> None:
    """Customers `{prefix}1..{prefix}{count}`, each with a USD and an INR wallet holding `balance`.

    Each wallet got its balance from one credit entry (seq 1 for USD, 2 for INR).
    """
    with psycopg.connect(url, autocommit=False) as conn:
        params: dict[str, Any] = {"prefix": prefix, "n": count, "balance": balance}
        conn.execute(
            """
            INSERT INTO ledger_heads (customer_id, last_seq, last_entry_at)
            SELECT %(prefix)s || i, 2, now() FROM generate_series(1, %(n)s) AS i
            """,
            params,
        )
        conn.execute(
            """
            INSERT INTO wallets (customer_id, currency, balance, created_at, updated_at)
            SELECT %(prefix)s || i, c, %(balance)s, now(), now()
            FROM generate_series(1, %(n)s) AS i, unnest(ARRAY['USD', 'INR']) AS c
            """,
            params,
        )
        conn.execute(
            """
            INSERT INTO ledger_entries (id, customer_id, seq, currency, entry_type, amount, before_balance,
                                        after_balance, reason, created_at)
            SELECT 'le_seed' || md5(%(prefix)s || i || c), %(prefix)s || i,
                   CASE c WHEN 'USD' THEN 1 ELSE 2 END, c, 'credit', %(balance)s, 0, %(balance)s,
                   'bench seed', now()
            FROM generate_series(1, %(n)s) AS i, unnest(ARRAY['USD', 'INR']) AS c
            """,
            params,
        )
        conn.commit()


def seed_history(url: str, customer_id: str, count: int) -> int:
    """`count` USD credits of 1..97 for one customer, with a consistent chain; returns the final balance."""
    with psycopg.connect(url, autocommit=False) as conn:
        conn.execute(
            "INSERT INTO ledger_heads (customer_id, last_seq, last_entry_at)"
            " VALUES (%s, %s, now() + make_interval(secs => %s / 1000.0))",
            (customer_id, count, count),
        )
        conn.execute(
            "INSERT INTO wallets (customer_id, currency, balance, created_at, updated_at)"
            " VALUES (%s, 'USD', 0, now(), now())",
            (customer_id,),
        )
        conn.execute(
            """
            INSERT INTO ledger_entries (id, customer_id, seq, currency, entry_type, amount, before_balance,
                                        after_balance, reason, created_at)
            SELECT 'le_' || lpad(to_hex(s.i), 12, '0') || left(md5(s.i::text), 20), %(c)s, s.i, 'USD',
                   'credit', s.amount, s.after - s.amount, s.after, 'api usage top-up',
                   now() + make_interval(secs => s.i / 1000.0)
            FROM (SELECT i, 1 + i %% 97 AS amount, sum(1 + i %% 97) OVER (ORDER BY i) AS after
                  FROM generate_series(1, %(n)s) AS i) AS s
            """,
            {"c": customer_id, "n": count},
        )
        row = conn.execute(
            "UPDATE wallets SET balance = (SELECT after_balance FROM ledger_entries"
            "  WHERE customer_id = %(c)s AND seq = %(n)s),"
            " updated_at = now() + make_interval(secs => %(n)s / 1000.0)"
            " WHERE customer_id = %(c)s AND currency = 'USD' RETURNING balance",
            {"c": customer_id, "n": count},
        ).fetchone()
        conn.commit()
    assert row is not None
    return int(row[0])


def vacuum_analyze(url: str) -> None:
    """Sets hint bits and statistics after bulk inserts, so that no measured reader pays for them."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM (ANALYZE) ledger_heads, wallets, ledger_entries")


def entry_count(url: str, like: str) -> int:
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute("SELECT count(*) FROM ledger_entries WHERE customer_id LIKE %s", (like,)).fetchone()
    assert row is not None
    return int(row[0])


def database_now(url: str) -> Any:
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute("SELECT clock_timestamp()").fetchone()
    assert row is not None
    return row[0]


def entries_per_transaction(url: str, like: str, since: Any) -> float | None:
    """Entries written since `since` per distinct created_at.

    The server stamps every entry of one write transaction with the same time
    (read once after taking the locks), so this estimates how many requests
    the coalescer put in each transaction.
    """
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*), count(DISTINCT created_at) FROM ledger_entries"
            " WHERE customer_id LIKE %s AND created_at >= %s",
            (like, since),
        ).fetchone()
    assert row is not None
    return round(row[0] / row[1], 2) if row[1] else None


def check_consistency(url: str, like: str) -> dict[str, int]:
    """Counts violations of the ledger's invariants among customers whose id is LIKE `like`.

    All counts are zero for a correct ledger: chain breaks (an entry's before
    is not the previous entry's after), arithmetic errors, seq gaps, heads
    behind their last entry, and wallets whose balance is not their last
    entry's after_balance or not the signed sum of their entries.
    """
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(
            """
            WITH e AS (
                SELECT customer_id, currency, seq, entry_type, amount, before_balance, after_balance,
                       lag(after_balance) OVER w AS previous_after,
                       row_number() OVER (PARTITION BY customer_id ORDER BY seq) AS position
                FROM ledger_entries WHERE customer_id LIKE %(like)s
                WINDOW w AS (PARTITION BY customer_id, currency ORDER BY seq)
            ), per_wallet AS (
                SELECT customer_id, currency,
                       sum(CASE entry_type WHEN 'credit' THEN amount ELSE -amount END) AS signed_sum,
                       (array_agg(after_balance ORDER BY seq DESC))[1] AS last_after
                FROM e GROUP BY customer_id, currency
            ), per_customer AS (
                SELECT customer_id, max(seq) AS max_seq, count(*) AS n FROM e GROUP BY customer_id
            )
            SELECT
                (SELECT count(*) FROM e WHERE coalesce(previous_after, 0) <> before_balance),
                (SELECT count(*) FROM e WHERE after_balance <> CASE entry_type WHEN 'credit'
                     THEN before_balance + amount ELSE before_balance - amount END),
                (SELECT count(*) FROM e WHERE seq <> position),
                (SELECT count(*) FROM per_customer p JOIN ledger_heads h USING (customer_id)
                     WHERE h.last_seq <> p.max_seq),
                (SELECT count(*) FROM per_wallet p JOIN wallets w USING (customer_id, currency)
                     WHERE w.balance <> p.last_after OR w.balance <> p.signed_sum),
                (SELECT count(*) FROM e)
            """,
            {"like": like},
        ).fetchone()
    assert row is not None
    names = ("chain_breaks", "arithmetic_errors", "seq_gaps", "stale_heads", "balance_mismatches", "entries")
    return dict(zip(names, (int(v) for v in row), strict=True))
