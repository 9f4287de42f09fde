"""The verifier's checks of reversals and stored refusals (see `server.verify.ledger`).

A reversal has the same customer and currency as its original and the
opposite direction; an entry's reversals sum to at most its amount; a refund
gives back to lots only money its debit drew from them, and only a refund
gives back at all. A key names at most one of an entry, a hold and a stored
refusal.
"""

from __future__ import annotations

from typing import Any

import psycopg

from server.verify.checks import run_checks

# Each query returns (subject, problem) rows.
_CHECKS = [
    """
SELECT format('entry %%s (customer %%s)', r.id, r.customer_id),
       format('a %%s in %%s reversing %%s, a %%s in %%s', r.entry_type, r.currency, o.id, o.entry_type, o.currency)
FROM ledger_entries r
JOIN ledger_entries o ON o.customer_id = r.customer_id AND o.id = r.reverses_entry_id
WHERE r.currency <> o.currency OR o.reverses_entry_id IS NOT NULL
   OR NOT ((o.entry_type = 'debit' AND r.entry_type = 'credit') OR (o.entry_type = 'credit' AND r.entry_type = 'debit'))
""",
    """
SELECT format('entry %%s (customer %%s)', o.id, o.customer_id),
       format('%%s of %%s reversed %%s in all', o.entry_type, o.amount, r.total)
FROM (SELECT customer_id, reverses_entry_id, sum(amount) AS total FROM ledger_entries
      WHERE reverses_entry_id IS NOT NULL GROUP BY 1, 2) r
JOIN ledger_entries o ON o.customer_id = r.customer_id AND o.id = r.reverses_entry_id
WHERE r.total > o.amount
""",
    # Returns: only by refunds, each within the entry's amount, to lots the refunded debit drew on, no more in all.
    """
SELECT format('entry %%s (customer %%s)', e.id, e.customer_id),
       format('gives back %%s to credit position %%s, but it is a %%s reversing %%s', x.amount, x.credit_seq,
              e.entry_type, coalesce(e.reverses_entry_id, 'nothing'))
FROM credit_returns x JOIN ledger_entries e ON e.customer_id = x.customer_id AND e.seq = x.entry_seq
WHERE e.entry_type <> 'credit' OR e.reverses_entry_id IS NULL
""",
    """
SELECT format('entry %%s (customer %%s)', o.id, o.customer_id),
       format('its refunds gave %%s back to credit position %%s, which it drew %%s from',
              x.total, x.credit_seq, coalesce(d.amount, 0))
FROM (
    SELECT r.customer_id, r.reverses_entry_id, x.credit_seq, sum(x.amount) AS total
    FROM credit_returns x JOIN ledger_entries r ON r.customer_id = x.customer_id AND r.seq = x.entry_seq
    GROUP BY 1, 2, 3
) x
JOIN ledger_entries o ON o.customer_id = x.customer_id AND o.id = x.reverses_entry_id
LEFT JOIN credit_draws d ON d.customer_id = o.customer_id AND d.entry_seq = o.seq AND d.credit_seq = x.credit_seq
WHERE x.total > coalesce(d.amount, 0)
""",
    """
SELECT format('entry %%s (customer %%s)', e.id, e.customer_id),
       format('gives back %%s to credits but is a refund of only %%s', x.total, e.amount)
FROM (SELECT customer_id, entry_seq, sum(amount) AS total FROM credit_returns GROUP BY 1, 2) x
JOIN ledger_entries e ON e.customer_id = x.customer_id AND e.seq = x.entry_seq
WHERE x.total > e.amount
""",
    """
SELECT format('customer %%s', f.customer_id),
       format('idempotency key %%L names a stored refusal (%%s) and an applied %%s', f.idempotency_key, f.reason,
              CASE WHEN e.id IS NOT NULL THEN 'entry ' || e.id ELSE 'hold ' || h.id END)
FROM stored_refusals f
LEFT JOIN ledger_entries e ON e.customer_id = f.customer_id AND e.idempotency_key = f.idempotency_key
LEFT JOIN holds h ON h.customer_id = f.customer_id AND h.idempotency_key = f.idempotency_key
WHERE e.id IS NOT NULL OR h.id IS NOT NULL
""",
]


def reversal_problems(conn: psycopg.Connection[Any], limit: int) -> list[str]:
    """Every broken rule of reversals and refusals found, as sentences (at most `limit` per check)."""
    return run_checks(conn, _CHECKS, limit)
