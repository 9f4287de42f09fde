"""`Ledger`: balances, entries, holds and history, over one connection pool.

A write goes one way: `Ledger` submits it to the write queues
(`server.ledger.write_shards`), which gather concurrent requests into batches
and run each batch as one `WriteTransaction` (`server.ledger.transaction`):
lock the customers and read their books, decide every request in arrival
order, write, commit. Each request keeps its own outcome exactly as if it had
run alone. Reads first post whatever fell due for their customer (expired
holds, lapsed credits) through the same write path
(`server.ledger.settling`), so no caller sees money that has expired; the
background expirer does the same for idle wallets.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import psycopg
from opentelemetry.trace import Tracer
from psycopg_pool import AsyncConnectionPool

from server.config import Settings
from server.domain.entry_batches import EntryBatch
from server.domain.errors import HoldNotFound, WalletError
from server.domain.events import ThresholdRequest, ThresholdSet, WatchQuery
from server.domain.holds import CaptureRequest, Hold, HoldOutcome, HoldQuery, HoldRequest, ReleaseRequest
from server.domain.model import Applied, Entry, EntryRequest, HistoryQuery, ReversalRequest, Reversed, Wallet
from server.domain.reports import Summary, SummaryQuery, build_buckets
from server.ledger.balances import Balances
from server.ledger.clock import Clock
from server.ledger.events_feed import EventFeed
from server.ledger.expirer import Expirer
from server.ledger.history import read_history
from server.ledger.settling import DueSettler
from server.ledger.transaction import WriteTransaction
from server.ledger.watch import WatchUpdate, watch
from server.ledger.write_shards import WriteShards
from server.observability.batches import BatchObserver
from server.observability.ledger_metrics import LedgerMetrics
from server.store import events, hold_reads, refusals, report_reads
from server.store.db import database_errors


def _refuse_impossible_hold_id(hold_id: str) -> None:
    """An id with NUL names no hold (PostgreSQL text cannot hold NUL), so it is not looked up at all."""
    if "\x00" in hold_id:
        raise HoldNotFound(hold_id=hold_id.replace("\x00", "\\0"))


class Ledger:
    """The wallet's use cases over one connection pool; `close()` finishes the queued requests."""

    def __init__(
        self,
        pool: AsyncConnectionPool[psycopg.AsyncConnection[Any]],
        settings: Settings,
        *,
        metrics: LedgerMetrics | None = None,
        tracer: Tracer | None = None,
        clock: Clock | None = None,
    ) -> None:
        """`metrics` and `tracer` are the server's observability (None: that part is off); `clock` its time."""
        self._pool = pool
        self.clock = clock or Clock()
        self._metrics = metrics
        observe = metrics is not None or tracer is not None
        self.events = EventFeed(pool)
        thresholds = {code: c.low_balance_threshold for code, c in settings.currencies.items()}
        # The write transaction the queues run; tests may apply a batch through it directly.
        self.transaction = WriteTransaction(
            pool, thresholds, self.clock, events_written=self.events.events_written, metrics=metrics
        )
        self._writes = WriteShards(
            self.transaction,
            shards=settings.write_shards,
            batch_max=settings.write_batch_max,
            concurrency=settings.write_concurrency,
            queue_timeout_s=settings.db_pool_timeout_s,
            linger_s=settings.write_linger_ms / 1000,
            observer=BatchObserver("wallet.write_batch", tracer=tracer, metrics=metrics) if observe else None,
            database_reachable=self._database_reachable,
        )
        self._due = DueSettler(pool, self._writes, self.clock)
        self._balances = Balances(pool, self._due, self.clock, settings, tracer, self._database_reachable)
        self.expirer = Expirer(
            self._due.due_customers,
            self._due.settle,
            self.prune,
            interval_s=settings.expirer_interval_s,
            batch_max=settings.expirer_batch_max,
        )
        if metrics is not None:
            metrics.watch_queue(lambda: self.queued_writes)
            metrics.watch_pool(pool.get_stats)
            metrics.watch_watchers(lambda: self.events.watchers)
        self._event_retention = timedelta(days=settings.event_retention_days)
        self._refusal_retention = timedelta(days=settings.refusal_retention_days)

    def _database_reachable(self) -> bool:
        """False while the pool (or the health probe) found no database primary to connect to."""
        return getattr(self._pool, "reachable", True)

    @property
    def queued_writes(self) -> int:
        """Write requests waiting for a transaction right now."""
        return self._writes.queued

    def start(self) -> None:
        """Starts the background expirer (unless switched off) and the event feed."""
        self.expirer.start()
        self.events.start()

    async def close(self) -> None:
        """Stops the expirer and the event feed, refuses new requests and waits for the queued ones to finish."""
        await self.expirer.stop()
        await self.events.stop()
        await self._writes.close()
        await self._balances.close()

    async def get_balances(self, customer_id: str, as_of: datetime | None = None) -> list[Wallet]:
        """Every supported currency's wallet, now or as it stood at `as_of` (`server.ledger.balances`)."""
        return await self._balances.get(customer_id, as_of)

    async def summarize(self, query: SummaryQuery) -> Summary:
        """The query's buckets, after posting whatever fell due for the customer."""
        await self._due.settle_if_due(query.customer_id)
        with database_errors():
            async with self._pool.connection() as conn:
                opening, totals, breakdown = await report_reads.select_summary(conn, query)
        grouped = query.group_by_metadata_key is not None
        return Summary(query, build_buckets(query.bounds, opening, totals, breakdown, grouped=grouped))

    async def create_entry(self, request: EntryRequest) -> Applied:
        """Applies one entry (or replays it); raises the WalletError that refused it."""
        outcome = await self._writes.submit(request)
        assert isinstance(outcome, Applied)
        return outcome

    async def create_entries(self, batch: EntryBatch) -> list[Applied | WalletError]:
        """Applies a batch of entries in order; each entry's outcome, or (atomic) the refusal that stopped all."""
        return await self._writes.submit_entries(batch)

    async def create_hold(self, request: HoldRequest) -> HoldOutcome:
        """Reserves money (or replays that); raises the WalletError that refused it."""
        return await self._hold(request)

    async def capture_hold(self, request: CaptureRequest) -> HoldOutcome:
        """Debits (part of) an active hold and closes it (or replays that); raises the WalletError that refused it."""
        _refuse_impossible_hold_id(request.hold_id)
        return await self._hold(request)

    async def release_hold(self, request: ReleaseRequest) -> HoldOutcome:
        """Closes an active hold without a debit (or replays that); raises the WalletError that refused it."""
        _refuse_impossible_hold_id(request.hold_id)
        return await self._hold(request)

    async def _hold(self, request: HoldRequest | CaptureRequest | ReleaseRequest) -> HoldOutcome:
        outcome = await self._writes.submit(request)
        assert isinstance(outcome, HoldOutcome)
        return outcome

    async def set_threshold(self, request: ThresholdRequest) -> ThresholdSet:
        """Sets a wallet's low-balance threshold (emitting a crossing event if it moves the wallet across)."""
        outcome = await self._writes.submit(request)
        assert isinstance(outcome, ThresholdSet)
        return outcome

    async def watch(self, query: WatchQuery) -> AsyncIterator[WatchUpdate]:
        """An empty update once the watch is live, then each batch of matching events as it is placed."""
        async for update in watch(self._pool, self.events, query):
            if update.events and self._metrics is not None:
                self._metrics.delivered(update.events, self.clock.now())
            yield update

    async def prune_events(self, limit: int) -> int:
        """Removes up to about `limit` events older than the retention period; returns how many."""
        with database_errors():
            async with self._pool.connection() as conn, conn.transaction():
                return await events.delete_events_older_than(conn, self._event_retention, limit, self.clock.offset)

    async def prune_refusals(self, limit: int) -> int:
        """Removes up to `limit` stored refusals older than their retention; returns how many."""
        with database_errors():
            async with self._pool.connection() as conn, conn.transaction():
                return await refusals.delete_refusals_older_than(
                    conn, self._refusal_retention, limit, self.clock.offset
                )

    async def prune(self, limit: int) -> int:
        """The background pass's pruning: events, then stored refusals, each past its retention."""
        return await self.prune_events(limit) + await self.prune_refusals(limit)

    async def reverse(self, request: ReversalRequest) -> Reversed:
        """Refunds a debit or reclaims a credit (or replays that); raises the WalletError that refused it."""
        outcome = await self._writes.submit(request)
        assert isinstance(outcome, Reversed)
        return outcome

    async def get_hold(self, customer_id: str, hold_id: str) -> Hold:
        _refuse_impossible_hold_id(hold_id)
        await self._due.settle_if_due(customer_id)
        with database_errors():
            async with self._pool.connection() as conn:
                hold = await hold_reads.select_hold(conn, customer_id, hold_id)
        if hold is None:
            raise HoldNotFound(hold_id=hold_id)
        return hold

    async def list_holds(self, query: HoldQuery) -> tuple[list[Hold], bool]:
        """A page of the customer's holds, newest first, and whether more follow."""
        await self._due.settle_if_due(query.customer_id)
        with database_errors():
            async with self._pool.connection() as conn:
                found = await hold_reads.list_holds(conn, query, query.page_size + 1)
        return found[: query.page_size], len(found) > query.page_size

    async def history(self, query: HistoryQuery) -> AsyncIterator[list[Entry]]:
        """Yields the customer's matching entries in order, one database batch at a time."""
        await self._due.settle_if_due(query.customer_id)
        async for entries in read_history(self._pool, query):
            if self._metrics is not None:
                self._metrics.exported(len(entries))
            yield entries
