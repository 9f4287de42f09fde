"""One write transaction: lock the customers and read their books, decide every request, write, commit.

The whole use case of a write batch (`Ledger.apply_batch`), begun once at
the top: `server.store.locking` reads the named state under the locks,
`server.domain.decide` decides each request in arrival order as if it ran
alone, `server.store.writes` writes what was decided. A batch of only
refusals and replays rolls back and leaves no trace, not even a lock row.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import psycopg
from psycopg_pool import AsyncConnectionPool

from server.domain.decide import BatchDecision, Request, decide_batch, single_requests
from server.domain.holds import CaptureRequest, HoldRequest, ReleaseRequest
from server.domain.ids import new_entry_id
from server.domain.model import EntryRequest
from server.observability.batches import event
from server.store import locking, writes
from server.store.db import database_errors
from server.store.failover import commit_guard


async def apply_in_one_transaction(
    pool: AsyncConnectionPool[psycopg.AsyncConnection[Any]],
    requests: Sequence[Request],
    default_thresholds: Mapping[str, int],
) -> BatchDecision:
    """Applies the requests in order in one transaction; the decision holds one outcome per request."""
    assert requests
    singles = single_requests(requests)
    customer_ids = sorted({r.customer_id for r in singles})
    key_refs = sorted(
        {(r.customer_id, r.idempotency_key) for r in singles if isinstance(r, EntryRequest | HoldRequest)}
        - {(c, "") for c in customer_ids}
    )
    hold_refs = sorted({(r.customer_id, r.hold_id) for r in singles if isinstance(r, CaptureRequest | ReleaseRequest)})
    with database_errors():
        # Pipeline mode lets BEGIN travel with the locking reads, and the
        # write with the COMMIT: two round trips per batch in all.
        async with pool.connection() as conn, commit_guard() as commit, conn.pipeline(), conn.transaction():
            state = await locking.lock_batch(conn, customer_ids, key_refs, hold_refs)
            state.default_thresholds = default_thresholds
            event("db.locked", customers=len(customer_ids))
            decision = decide_batch(requests, state, new_entry_id)
            if not decision.writes_anything:
                raise psycopg.Rollback()
            await writes.write_batch(conn, decision)
            event("db.written", entries=len(decision.entries))
            # From here the COMMIT is on its way: a broken connection leaves the outcome unknown.
            commit.started = True
    event("db.committed" if decision.writes_anything else "db.rolled_back")
    return decision
