"""Data the scenarios start from, written by direct SQL (not through the API) in seconds.

Every seeded row obeys the ledger's invariants: each wallet's balance equals
the sum of its entries and its version their count, each customer's entries
form a contiguous seq and an unbroken before/after chain, and the head row
knows the last seq. The seed is history from before events began
(`events_begin_now`), so it has no events. So the service can write on top
of it, and `check_consistency` (the service's own verifier) can verify
everything afterwards.
"""

from __future__ import annotations

import re
from typing import Any

import psycopg

from server.verify import verify

# The verifier names the customer of each problem as "customer ID" or "wallet ID/CURRENCY".
_CUSTOMER = re.compile(r"(?:customer |wallet )([^\s/,):]+)")
# Every problem, so that those of the customers asked about are never cut off by others'.
PROBLEMS_MAX = 10**7

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
            INSERT INTO wallets (customer_id, currency, balance, created_at, updated_at, version)
            SELECT %(prefix)s || i, c, %(balance)s, now(), now(), 1
            FROM generate_series(1, %(n)s) AS i, unnest(ARRAY['USD', 'INR']) AS c
            """,
            params,
        )
        conn.execute(
            """
            INSERT INTO ledger_entries (id, customer_id, seq, currency, entry_type, amount, before_balance,
                                        after_balance, reason, created_at, wallet_version)
            SELECT 'le_seed' || md5(%(prefix)s || i || c), %(prefix)s || i,
                   CASE c WHEN 'USD' THEN 1 ELSE 2 END, c, 'credit', %(balance)s, 0, %(balance)s,
                   'bench seed', now(), 1
            FROM generate_series(1, %(n)s) AS i, unnest(ARRAY['USD', 'INR']) AS c
            """,
            params,
        )
        conn.commit()


def seed_history(url: str, customer_id: str, count: int) -> int:
    """`count` USD credits of 1..97 for one customer, with a consistent chain; returns the final balance.

    One a millisecond, the last one now.
    """
    with psycopg.connect(url, autocommit=False) as conn:
        conn.execute(
            "INSERT INTO ledger_heads (customer_id, last_seq, last_entry_at) VALUES (%s, %s, now())",
            (customer_id, count),
        )
        conn.execute(
            "INSERT INTO wallets (customer_id, currency, balance, created_at, updated_at, version)"
            " VALUES (%s, 'USD', 0, now(), now(), %s)",
            (customer_id, count),
        )
        conn.execute(
            """
            INSERT INTO ledger_entries (id, customer_id, seq, currency, entry_type, amount, before_balance,
                                        after_balance, reason, created_at, wallet_version)
            SELECT 'le_' || lpad(to_hex(s.i), 12, '0') || left(md5(s.i::text), 20), %(c)s, s.i, 'USD',
                   'credit', s.amount, s.after - s.amount, s.after, 'api usage top-up',
                   now() - make_interval(secs => (%(n)s - s.i) / 1000.0), s.i
            FROM (SELECT i, 1 + i %% 97 AS amount, sum(1 + i %% 97) OVER (ORDER BY i) AS after
                  FROM generate_series(1, %(n)s) AS i) AS s
            """,
            {"c": customer_id, "n": count},
        )
        row = conn.execute(
            "UPDATE wallets SET balance = (SELECT after_balance FROM ledger_entries"
            "  WHERE customer_id = %(c)s AND seq = %(n)s),"
            " updated_at = now()"
            " WHERE customer_id = %(c)s AND currency = 'USD' RETURNING balance",
            {"c": customer_id, "n": count},
        ).fetchone()
        conn.commit()
    assert row is not None
    return int(row[0])


def events_begin_now(url: str) -> None:
    """Declares what is seeded so far history from before events began: the verifier expects no events of it."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("UPDATE event_stream SET started_at = clock_timestamp() WHERE id = 1")


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


def check_consistency(url: str, like: str) -> dict[str, Any]:
    """The service's own verifier (`server.verify`, what `make verify` runs) on the customers LIKE `like`.

    `problems` is empty for a correct ledger: every balance equals its entries,
    every before/after chain and history position holds, no key applied twice,
    versions, holds, expiring credits and events agree with the entries. The
    verifier reads the whole database; its problems about other customers are
    left out: pgbench's baseline customers are written by a stand-in
    transaction that keeps balances and chains but not versions or events.
    """
    report = verify(url, problems_max=PROBLEMS_MAX)
    pattern = re.compile(re.escape(like).replace("%", ".*").replace("_", "."))
    problems = [p for p in report.problems if _about(p) is None or pattern.fullmatch(_about(p) or "")]
    return {"problems": problems[:20], "wallets": report.wallets, "entries": report.entries}


def _about(problem: str) -> str | None:
    """The customer a problem of the verifier names, or None for one about the whole ledger (the event stream)."""
    found = _CUSTOMER.search(problem)
    return found.group(1) if found else None
