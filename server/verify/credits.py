"""The verifier's checks of holds and expiring credits (see `server.verify.ledger`).

Expiring credits have a lot whose remainder must equal the credit's amount
less every draw on it plus what refunds gave back to it, never negative; money that never expires is the pool:
the balance less every lot's remainder, never negative. A wallet's held
balance must equal its active holds, each lot's held part the reservations of
active holds on it, and its version the count of what changed it.
"""

from __future__ import annotations

from typing import Any

import psycopg

from server.verify.checks import run_checks

# Each query returns (subject, problem) rows.
_CHECKS = [
    # held_balance against the active holds.
    """
SELECT format('wallet %%s/%%s', w.customer_id, w.currency),
       format('held_balance %%s but its active holds sum to %%s', w.held_balance, coalesce(h.total, 0))
FROM wallets w
LEFT JOIN (SELECT customer_id, currency, sum(amount) AS total FROM holds WHERE status = 'active' GROUP BY 1, 2) h
    USING (customer_id, currency)
WHERE w.held_balance <> coalesce(h.total, 0)
""",
    # Each lot against its credit, its draws and what refunds gave back to it.
    """
SELECT format('credit lot %%s (customer %%s)', l.credit_id, l.customer_id),
       format('remaining %%s but the credit of %%s less its draws of %%s plus its returns of %%s leaves %%s',
              l.remaining, e.amount, coalesce(d.total, 0), coalesce(r.total, 0),
              e.amount - coalesce(d.total, 0) + coalesce(r.total, 0))
FROM credit_lots l
JOIN ledger_entries e ON e.customer_id = l.customer_id AND e.seq = l.credit_seq
LEFT JOIN (SELECT customer_id, credit_seq, sum(amount) AS total FROM credit_draws GROUP BY 1, 2) d
    ON d.customer_id = l.customer_id AND d.credit_seq = l.credit_seq
LEFT JOIN (SELECT customer_id, credit_seq, sum(amount) AS total FROM credit_returns GROUP BY 1, 2) r
    ON r.customer_id = l.customer_id AND r.credit_seq = l.credit_seq
WHERE l.remaining <> e.amount - coalesce(d.total, 0) + coalesce(r.total, 0)
      OR l.amount <> e.amount OR l.expire_time <> e.expire_time
      OR l.currency <> e.currency OR e.entry_type <> 'credit'
""",
    # Every expiring credit has its lot.
    """
SELECT format('entry %%s (customer %%s)', e.id, e.customer_id), 'an expiring credit without its lot'
FROM ledger_entries e LEFT JOIN credit_lots l ON l.customer_id = e.customer_id AND l.credit_seq = e.seq
WHERE e.expire_time IS NOT NULL AND l.customer_id IS NULL
""",
    # Each lot's held part against the reservations of active holds.
    """
SELECT format('credit lot %%s (customer %%s)', l.credit_id, l.customer_id),
       format('held %%s but active holds reserve %%s of it', l.held, coalesce(r.total, 0))
FROM credit_lots l
LEFT JOIN (
    SELECT h.customer_id, (part->>0)::bigint AS credit_seq, sum((part->>1)::bigint) AS total
    FROM holds h, jsonb_array_elements(h.reservations) AS part
    WHERE h.status = 'active' AND (part->>0)::bigint <> 0 GROUP BY 1, 2
) r USING (customer_id, credit_seq)
WHERE l.held <> coalesce(r.total, 0)
""",
    # An expiration takes exactly its amount from exactly the credit it names; debits only take what they spent.
    """
SELECT format('entry %%s (customer %%s)', e.id, e.customer_id),
       format('%%s of %%s but draws of %%s', e.entry_type, e.amount, coalesce(d.total, 0))
FROM ledger_entries e
LEFT JOIN (SELECT customer_id, entry_seq, sum(amount) AS total FROM credit_draws GROUP BY 1, 2) d
    ON d.customer_id = e.customer_id AND d.entry_seq = e.seq
WHERE (e.entry_type = 'expiration' AND coalesce(d.total, 0) <> e.amount)
   OR (e.entry_type = 'debit' AND coalesce(d.total, 0) > e.amount)
   OR (e.entry_type = 'credit' AND d.total IS NOT NULL)
   OR (e.entry_type = 'expiration' AND NOT EXISTS (
        SELECT 1 FROM credit_draws x JOIN ledger_entries c ON c.customer_id = x.customer_id AND c.seq = x.credit_seq
        WHERE x.customer_id = e.customer_id AND x.entry_seq = e.seq AND c.id = e.expired_entry_id))
""",
    # The pool (money that never expires): balance less the lots' remainders, explained by its credits and debits.
    """
WITH lots AS (
    SELECT customer_id, currency, sum(remaining) AS remaining, sum(held) AS held FROM credit_lots GROUP BY 1, 2
), flows AS (
    SELECT e.customer_id, e.currency,
           sum(CASE WHEN e.entry_type = 'credit' AND e.expire_time IS NULL THEN e.amount - coalesce(r.total, 0)
                    ELSE 0 END)
         - sum(CASE WHEN e.entry_type = 'debit' THEN e.amount - coalesce(d.total, 0) ELSE 0 END) AS pool
    FROM ledger_entries e
    LEFT JOIN (SELECT customer_id, entry_seq, sum(amount) AS total FROM credit_draws GROUP BY 1, 2) d
        ON d.customer_id = e.customer_id AND d.entry_seq = e.seq
    -- A refund's money that went back to expiring credits is in their lots, not in the pool.
    LEFT JOIN (SELECT customer_id, entry_seq, sum(amount) AS total FROM credit_returns GROUP BY 1, 2) r
        ON r.customer_id = e.customer_id AND r.entry_seq = e.seq
    GROUP BY 1, 2
)
SELECT format('wallet %%s/%%s', w.customer_id, w.currency),
       format('never-expiring remainder %%s (balance %%s less lots %%s), its credits less debits give %%s, held %%s',
              w.balance - coalesce(l.remaining, 0), w.balance, coalesce(l.remaining, 0), coalesce(f.pool, 0),
              w.held_balance - coalesce(l.held, 0))
FROM wallets w
LEFT JOIN lots l USING (customer_id, currency)
LEFT JOIN flows f USING (customer_id, currency)
WHERE w.balance - coalesce(l.remaining, 0) <> coalesce(f.pool, 0)
   OR w.balance - coalesce(l.remaining, 0) < 0
   OR w.held_balance - coalesce(l.held, 0) NOT BETWEEN 0 AND w.balance - coalesce(l.remaining, 0)
""",
    # Versions: one per entry, per hold created, per hold released or expired; increasing along the history.
    """
SELECT format('wallet %%s/%%s', w.customer_id, w.currency),
       format('version %%s but %%s entries and %%s hold events', w.version, coalesce(e.n, 0), coalesce(h.n, 0))
FROM wallets w
LEFT JOIN (SELECT customer_id, currency, count(*) AS n FROM ledger_entries GROUP BY 1, 2) e
    USING (customer_id, currency)
LEFT JOIN (
    SELECT customer_id, currency, count(*) + count(*) FILTER (WHERE status IN ('released', 'expired')) AS n
    FROM holds GROUP BY 1, 2
) h USING (customer_id, currency)
WHERE w.version <> coalesce(e.n, 0) + coalesce(h.n, 0)
""",
    """
SELECT format('entry %%s (customer %%s)', id, customer_id),
       format('wallet_version %%s is not above the previous entry''s %%s', wallet_version, previous)
FROM (
    SELECT id, customer_id, wallet_version,
           lag(wallet_version) OVER (PARTITION BY customer_id, currency ORDER BY seq) AS previous
    FROM ledger_entries
) v
WHERE wallet_version <= previous
""",
    # The versions a hold recorded (GetBalances as_of reads them) lie within its wallet's, in order.
    """
SELECT format('hold %%s (customer %%s)', h.id, h.customer_id),
       format('made at version %%s, closed at %%s, but its wallet is at %%s', h.created_version,
              coalesce(h.closed_version::text, '-'), w.version)
FROM holds h JOIN wallets w USING (customer_id, currency)
WHERE h.created_version < 1 OR h.created_version > w.version
   OR h.closed_version < h.created_version OR h.closed_version > w.version
""",
    # A capture's debit and its hold agree; keys are one space for entries and holds.
    """
SELECT format('hold %%s (customer %%s)', h.id, h.customer_id),
       format('captured %%s but its capture entry is %%s', h.captured_amount,
              coalesce(e.entry_type || ' of ' || e.amount || ' for hold ' || coalesce(e.hold_id, '-'), 'missing'))
FROM holds h
LEFT JOIN ledger_entries e ON e.customer_id = h.customer_id AND e.id = h.capture_entry_id
WHERE h.status = 'captured'
  AND (e.id IS NULL OR e.entry_type <> 'debit' OR e.amount <> h.captured_amount OR e.hold_id IS DISTINCT FROM h.id)
""",
    """
SELECT format('customer %%s', e.customer_id),
       format('idempotency key %%L names both entry %%s and hold %%s', e.idempotency_key, e.id, h.id)
FROM ledger_entries e JOIN holds h ON h.customer_id = e.customer_id AND h.idempotency_key = e.idempotency_key
""",
]


def credit_and_hold_problems(conn: psycopg.Connection[Any], limit: int) -> list[str]:
    """Every problem with holds, lots and versions, as sentences (at most `limit` per check)."""
    return run_checks(conn, _CHECKS, limit)
