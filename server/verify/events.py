"""The verifier's checks of the event outbox (see `server.verify.ledger`).

Every change made since events began (or since what retention removed) has
its event: one ENTRY_CREATED per entry, one HOLD_CREATED per hold and one
closing event per closed hold, of the status it closed with. Each customer's
events never run ahead of its head, and no placed position runs ahead of the
stream's.
"""

from __future__ import annotations

from typing import Any

import psycopg

from server.verify.checks import run_checks

# Changes before this instant may have no event: made before the upgrade that began events, or removed by retention.
_HORIZON = "(SELECT greatest(started_at, coalesce(retained_after, started_at)) FROM event_stream WHERE id = 1)"

# Each query returns (subject, problem) rows.
_CHECKS = [
    f"""
SELECT format('entry %%s (customer %%s)', e.id, e.customer_id), format('%%s ENTRY_CREATED events', count(v.seq))
FROM ledger_entries e
LEFT JOIN wallet_events v ON v.customer_id = e.customer_id AND v.entry_id = e.id
WHERE e.created_at > {_HORIZON}
GROUP BY e.customer_id, e.id
HAVING count(v.seq) <> 1
""",
    f"""
SELECT format('hold %%s (customer %%s)', h.id, h.customer_id),
       format('%%s HOLD_CREATED and %%s closing events for a hold %%s', count(v.seq) FILTER (WHERE v.event_type =
              'hold_created'), count(v.seq) FILTER (WHERE v.event_type <> 'hold_created'), h.status)
FROM holds h
LEFT JOIN wallet_events v ON v.customer_id = h.customer_id AND v.hold_id = h.id
WHERE h.created_at > {_HORIZON}
GROUP BY h.customer_id, h.id, h.status
HAVING count(v.seq) FILTER (WHERE v.event_type = 'hold_created') <> 1
    OR count(v.seq) FILTER (WHERE v.event_type = 'hold_' || h.status)
       <> (CASE WHEN h.status = 'active' THEN 0 ELSE 1 END)
    OR count(v.seq) <> (CASE WHEN h.status = 'active' THEN 1 ELSE 2 END)
""",
    """
SELECT format('customer %%s', v.customer_id),
       format('event %%s is beyond the head''s %%s', max(v.seq), h.last_event_seq)
FROM wallet_events v JOIN ledger_heads h USING (customer_id)
GROUP BY v.customer_id, h.last_event_seq
HAVING max(v.seq) > h.last_event_seq
""",
    """
SELECT 'the event stream',
       format('position %%s is placed beyond the last position %%s', max(v.position), s.last_position)
FROM wallet_events v, event_stream s
GROUP BY s.last_position
HAVING max(v.position) > s.last_position
""",
]


def event_problems(conn: psycopg.Connection[Any], limit: int) -> list[str]:
    """Every problem with the outbox, as sentences (at most `limit` per check)."""
    return run_checks(conn, _CHECKS, limit)
