"""The ledger verifier: proves from the stored rows alone that the books balance.

For every wallet it checks that the balance equals the sum of its entries; for
every entry, that it starts where the previous entry of its wallet ended and
that its after_balance is its before_balance plus or minus its amount; for
every customer, that history positions run 1, 2, 3… up to the head's last
position with created_at never decreasing, and that no idempotency key was
applied twice. Then the checks of holds, expiring credits (lots) and versions
(`server.verify.credits`), of the event outbox (`server.verify.events`), and of
reversals and stored refusals (`server.verify.reversals`). Everything is read
in one REPEATABLE READ snapshot, so a verifier running beside live traffic
sees one consistent state. Run it with `wallet-admin verify` or `make verify`.
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg

from server.verify.credits import credit_and_hold_problems
from server.verify.events import event_problems
from server.verify.reversals import reversal_problems

# Each check returns offending rows ordered so the first row is the first bad entry.
_BROKEN_CHAIN = """
WITH ordered AS (
    SELECT customer_id, currency, seq, id, entry_type, amount, before_balance, after_balance,
           lag(after_balance, 1, 0::bigint) OVER (PARTITION BY customer_id, currency ORDER BY seq) AS expected_before
    FROM ledger_entries
)
SELECT customer_id, currency, seq, id,
       format('before_balance %%s, but the previous entry of the wallet ended at %%s', before_balance, expected_before)
FROM ordered
WHERE before_balance <> expected_before
UNION ALL
SELECT customer_id, currency, seq, id,
       format('%%s of %%s from %%s gives %%s, not %%s', entry_type, amount, before_balance,
              CASE entry_type WHEN 'credit' THEN before_balance + amount ELSE before_balance - amount END,
              after_balance)
FROM ledger_entries
WHERE after_balance <> CASE entry_type WHEN 'credit' THEN before_balance + amount ELSE before_balance - amount END
ORDER BY 1, 3
LIMIT %(limit)s
"""

_BALANCE_MISMATCH = """
SELECT w.customer_id, w.currency, w.balance, coalesce(s.total, 0), s.last_id
FROM wallets AS w
LEFT JOIN (
    SELECT customer_id, currency, sum(CASE entry_type WHEN 'credit' THEN amount ELSE -amount END) AS total,
           (array_agg(id ORDER BY seq DESC))[1] AS last_id
    FROM ledger_entries GROUP BY customer_id, currency
) AS s USING (customer_id, currency)
WHERE w.balance <> coalesce(s.total, 0)
ORDER BY 1, 2
LIMIT %(limit)s
"""

_ENTRIES_WITHOUT_WALLET = """
SELECT e.customer_id, e.currency, count(*) FROM ledger_entries AS e
LEFT JOIN wallets AS w USING (customer_id, currency)
WHERE w.customer_id IS NULL GROUP BY 1, 2 ORDER BY 1, 2 LIMIT %(limit)s
"""

_POSITIONS = """
WITH ordered AS (
    SELECT customer_id, seq, id, created_at,
           row_number() OVER (PARTITION BY customer_id ORDER BY seq) AS expected_seq,
           lag(created_at) OVER (PARTITION BY customer_id ORDER BY seq) AS previous_created_at
    FROM ledger_entries
)
SELECT customer_id, seq, id, format('position %%s where %%s was expected', seq, expected_seq) FROM ordered
WHERE seq <> expected_seq
UNION ALL
SELECT customer_id, seq, id, format('created_at %%s is before the previous entry''s %%s', created_at,
                                    previous_created_at)
FROM ordered WHERE created_at < previous_created_at
ORDER BY 1, 2
LIMIT %(limit)s
"""

_HEADS = """
SELECT h.customer_id, h.last_seq, coalesce(max(e.seq), 0) FROM ledger_heads AS h
LEFT JOIN ledger_entries AS e USING (customer_id)
GROUP BY h.customer_id, h.last_seq
HAVING h.last_seq <> coalesce(max(e.seq), 0)
ORDER BY 1 LIMIT %(limit)s
"""

_DUPLICATE_KEYS = """
SELECT customer_id, idempotency_key, count(*), min(id) FROM ledger_entries
WHERE idempotency_key IS NOT NULL
GROUP BY customer_id, idempotency_key HAVING count(*) > 1
ORDER BY 1, 2 LIMIT %(limit)s
"""

_COUNTS = "SELECT (SELECT count(*) FROM wallets), (SELECT count(*) FROM ledger_entries)"


@dataclass(frozen=True)
class Report:
    """What the verifier found: counts read and each problem as a sentence, first bad entry first."""

    wallets: int
    entries: int
    problems: list[str]

    @property
    def ok(self) -> bool:
        return not self.problems


def verify(database_url: str, *, problems_max: int = 20) -> Report:
    """Checks the whole ledger in one snapshot; never writes."""
    limit = {"limit": problems_max}
    problems: list[str] = []
    with psycopg.connect(database_url) as conn:
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        for customer_id, currency, seq, entry_id, what in conn.execute(_BROKEN_CHAIN, limit):
            problems.append(f"entry {entry_id} (customer {customer_id}, {currency}, position {seq}): {what}")
        for customer_id, seq, entry_id, what in conn.execute(_POSITIONS, limit):
            problems.append(f"entry {entry_id} (customer {customer_id}, position {seq}): {what}")
        for customer_id, currency, balance, total, last_id in conn.execute(_BALANCE_MISMATCH, limit):
            problems.append(
                f"wallet {customer_id}/{currency}: balance {balance} but its entries sum to {total}"
                f" (last entry {last_id})"
            )
        for customer_id, currency, count in conn.execute(_ENTRIES_WITHOUT_WALLET, limit):
            problems.append(f"customer {customer_id}: {count} {currency} entries have no wallet")
        for customer_id, last_seq, max_seq in conn.execute(_HEADS, limit):
            problems.append(f"customer {customer_id}: head says position {last_seq}, last entry is at {max_seq}")
        for customer_id, key, count, first_id in conn.execute(_DUPLICATE_KEYS, limit):
            problems.append(
                f"customer {customer_id}: idempotency key {key!r} was applied {count} times (first entry {first_id})"
            )
        problems.extend(credit_and_hold_problems(conn, problems_max))
        problems.extend(event_problems(conn, problems_max))
        problems.extend(reversal_problems(conn, problems_max))
        counts = conn.execute(_COUNTS).fetchone()
        assert counts is not None
    return Report(wallets=counts[0], entries=counts[1], problems=problems[:problems_max])
