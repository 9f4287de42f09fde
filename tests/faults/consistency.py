"""A stand-in for the ledger verifier: checks every wallet of a database, from SQL alone.

`assert_ledger_consistent(database_url)` is what every fault test ends with.
It will be swapped for the `wallet-admin verify` command once that exists, so
it keeps the verifier's contract: it checks EVERY wallet and names the first
bad row it finds. Each rule is one set-based query, so a database holding a few
hundred thousand entries is checked in well under a second:

- each wallet's balance equals the sum of its entries (credits minus debits);
- each entry starts where the previous entry of its wallet (customer, currency),
  in seq order, ended, the first one at 0, and ends at before +/- amount;
- each customer's seqs are exactly 1..n, and the customer's head row says n;
- no idempotency key appears twice for one customer.
"""

from __future__ import annotations

import psycopg

_BALANCE_IS_SUM = """
SELECT coalesce(w.customer_id, s.customer_id), coalesce(w.currency, s.currency), w.balance, coalesce(s.total, 0)
FROM wallets AS w
FULL JOIN (
    SELECT customer_id, currency,
           sum(CASE entry_type WHEN 'credit' THEN amount WHEN 'debit' THEN -amount END) AS total
    FROM ledger_entries GROUP BY customer_id, currency
) AS s ON s.customer_id = w.customer_id AND s.currency = w.currency
WHERE w.balance IS DISTINCT FROM coalesce(s.total, 0) OR w.customer_id IS NULL
ORDER BY 1, 2
LIMIT 1
"""

_CHAIN_UNBROKEN = """
SELECT customer_id, currency, seq, id, entry_type, amount, before_balance, after_balance, expected_before
FROM (
    SELECT customer_id, currency, seq, id, entry_type, amount, before_balance, after_balance,
           lag(after_balance, 1, 0::bigint) OVER (PARTITION BY customer_id, currency ORDER BY seq)
               AS expected_before
    FROM ledger_entries
) AS chained
WHERE before_balance <> expected_before
   OR after_balance <> CASE entry_type WHEN 'credit' THEN before_balance + amount
                                       WHEN 'debit' THEN before_balance - amount END
   OR after_balance < 0
   OR entry_type NOT IN ('credit', 'debit')
ORDER BY customer_id, seq
LIMIT 1
"""

_SEQ_CONTIGUOUS = """
SELECT customer_id, seq, id, position
FROM (
    SELECT customer_id, seq, id, row_number() OVER (PARTITION BY customer_id ORDER BY seq) AS position
    FROM ledger_entries
) AS numbered
WHERE seq <> position
ORDER BY customer_id, seq
LIMIT 1
"""

_HEAD_AT_LAST_SEQ = """
SELECT coalesce(h.customer_id, e.customer_id), h.last_seq, e.entries, e.max_seq
FROM ledger_heads AS h
FULL JOIN (
    SELECT customer_id, count(*) AS entries, max(seq) AS max_seq FROM ledger_entries GROUP BY customer_id
) AS e ON e.customer_id = h.customer_id
WHERE coalesce(h.last_seq, -1) <> coalesce(e.max_seq, 0) OR coalesce(e.entries, 0) <> coalesce(e.max_seq, 0)
ORDER BY 1
LIMIT 1
"""

_KEYS_UNIQUE = """
SELECT customer_id, idempotency_key, count(*), min(id), max(id)
FROM ledger_entries
WHERE idempotency_key IS NOT NULL
GROUP BY customer_id, idempotency_key
HAVING count(*) > 1
ORDER BY 1, 2
LIMIT 1
"""


class LedgerInconsistent(AssertionError):
    """The ledger breaks one of its invariants; the message names the first bad row."""


def ledger_problems(database_url: str) -> list[str]:
    """Every broken rule, each with the first row that breaks it; empty when the ledger is consistent."""
    problems: list[str] = []
    with psycopg.connect(database_url) as conn:
        # One snapshot for all the checks, so concurrent writers cannot make them disagree.
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        conn.read_only = True
        row = conn.execute(_BALANCE_IS_SUM).fetchone()
        if row is not None:
            customer, currency, balance, total = row
            problems.append(f"wallet ({customer!r}, {currency}) has balance {balance} but its entries sum to {total}")
        row = conn.execute(_CHAIN_UNBROKEN).fetchone()
        if row is not None:
            customer, currency, seq, entry_id, entry_type, amount, before, after, expected = row
            problems.append(
                f"entry {entry_id} (customer {customer!r}, {currency}, seq {seq}) breaks the balance chain:"
                f" {entry_type} {amount} from {before} to {after}, but the previous entry ended at {expected}"
            )
        row = conn.execute(_SEQ_CONTIGUOUS).fetchone()
        if row is not None:
            customer, seq, entry_id, position = row
            problems.append(
                f"entry {entry_id} of customer {customer!r} has seq {seq} at position {position}:"
                " the customer's seqs are not contiguous from 1"
            )
        row = conn.execute(_HEAD_AT_LAST_SEQ).fetchone()
        if row is not None:
            customer, last_seq, entries, max_seq = row
            problems.append(
                f"customer {customer!r}: head says last_seq {last_seq}, ledger holds {entries} entries"
                f" up to seq {max_seq}"
            )
        row = conn.execute(_KEYS_UNIQUE).fetchone()
        if row is not None:
            customer, key, count, first_id, last_id = row
            problems.append(
                f"idempotency key {key!r} of customer {customer!r} was applied {count} times"
                f" (entries {first_id} .. {last_id})"
            )
    return problems


def assert_ledger_consistent(database_url: str) -> None:
    """Fails with a report naming the first bad row of each broken rule, for every wallet in the database."""
    problems = ledger_problems(database_url)
    if problems:
        raise LedgerInconsistent("the ledger is inconsistent:\n" + "\n".join(f"- {p}" for p in problems))
