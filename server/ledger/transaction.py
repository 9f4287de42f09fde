"""One write transaction: lock the customers and read their books, decide every request, write, commit.

`WriteTransaction` is the whole use case of a write batch, the object the
write queues (`server.ledger.write_shards`) are given and run; it never
returns to `Ledger`. The transaction is begun once at the top:
`server.store.locking` reads the named state under the locks,
`server.domain.decide` decides each request in arrival order as if it ran
alone, `server.store.writes` writes what was decided. A batch of only
replays and unkept refusals rolls back and leaves no trace, not even a lock row;
a keyed request's refusal is kept under its key (domain.refusals).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import psycopg
from psycopg_pool import AsyncConnectionPool

from server.domain.decide import BatchDecision, Outcome, Request, decide_batch, single_requests
from server.domain.holds import CaptureRequest, HoldRequest, ReleaseRequest
from server.domain.ids import new_entry_id
from server.domain.model import EntryRequest, ReversalRequest
from server.ledger.clock import Clock
from server.observability.batches import event
from server.observability.ledger_metrics import LedgerMetrics
from server.store import locking, writes
from server.store.db import database_errors
from server.store.failover import commit_guard


async def apply_in_one_transaction(
    pool: AsyncConnectionPool[psycopg.AsyncConnection[Any]],
    requests: Sequence[Request],
    default_thresholds: Mapping[str, int],
    clock: Clock,
) -> BatchDecision:
    """Applies the requests in order in one transaction; the decision holds one outcome per request.

    The batch decides at the database's clock once the locks are held, moved by `clock`'s offset.
    """
    assert requests
    singles = single_requests(requests)
    customer_ids = sorted({r.customer_id for r in singles})
    key_refs = sorted(
        {
            (r.customer_id, r.idempotency_key)
            for r in singles
            if isinstance(r, EntryRequest | HoldRequest | ReversalRequest)
        }
        - {(c, "") for c in customer_ids}
    )
    hold_refs = sorted({(r.customer_id, r.hold_id) for r in singles if isinstance(r, CaptureRequest | ReleaseRequest)})
    entry_refs = sorted({(r.customer_id, r.entry_id) for r in singles if isinstance(r, ReversalRequest)})
    with database_errors():
        # Pipeline mode lets BEGIN travel with the locking reads, and the
        # write with the COMMIT: two round trips per batch in all.
        async with pool.connection() as conn, commit_guard() as commit, conn.pipeline(), conn.transaction():
            state = await locking.lock_batch(conn, customer_ids, key_refs, hold_refs, clock.offset, entry_refs)
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


class WriteTransaction:
    """Applies a batch of write requests in one transaction, counts it, and tells the event feed of new events."""

    def __init__(
        self,
        pool: AsyncConnectionPool[psycopg.AsyncConnection[Any]],
        default_thresholds: Mapping[str, int],
        clock: Clock,
        *,
        events_written: Callable[[], None],
        metrics: LedgerMetrics | None = None,
    ) -> None:
        """`events_written` wakes the event feed (`EventFeed.events_written`); `metrics` None: nothing counted."""
        self._pool = pool
        self._default_thresholds = default_thresholds
        self._clock = clock
        self._events_written = events_written
        self._metrics = metrics

    async def apply(self, requests: Sequence[Request]) -> list[Outcome]:
        """Applies the requests in order in one transaction; returns one outcome per request."""
        decision = await apply_in_one_transaction(self._pool, requests, self._default_thresholds, self._clock)
        if self._metrics is not None:
            self._metrics.batch_committed(requests, decision)
        if decision.events:
            self._events_written()
        return decision.outcomes
