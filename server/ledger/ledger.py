"""`Ledger`: balances, entries, holds and history, over one connection pool.

A write is one transaction (`server.ledger.transaction`), begun once at the
top of `apply_batch`: lock the customers and read their books, decide every
request in arrival order, write, commit. A batch holds one or many requests
(the write queues gather concurrent ones, `server.ledger.write_shards`); each
request keeps its own outcome exactly as if it had run alone. Reads first post
whatever fell due for their customer (expired holds, lapsed credits) through
the same write path, so no caller sees money that has expired; the background
expirer does the same for idle wallets.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from datetime import datetime, timedelta
from typing import Any

import psycopg
from opentelemetry.trace import Tracer
from psycopg_pool import AsyncConnectionPool

from server.config import Settings
from server.domain.decide import Outcome, Request
from server.domain.entry_batches import EntryBatch
from server.domain.errors import HoldNotFound, WalletError
from server.domain.events import ThresholdRequest, ThresholdSet, WatchQuery
from server.domain.holds import CaptureRequest, Hold, HoldOutcome, HoldQuery, HoldRequest, ReleaseRequest, SettleRequest
from server.domain.model import Applied, Entry, EntryRequest, HistoryQuery, Wallet
from server.domain.reports import Summary, SummaryQuery, build_buckets
from server.ledger.coalescer import Coalescer
from server.ledger.events_feed import EventFeed
from server.ledger.expirer import Expirer
from server.ledger.history import read_history
from server.ledger.transaction import apply_in_one_transaction
from server.ledger.watch import WatchUpdate, watch
from server.ledger.write_shards import WriteShards
from server.observability.batches import BatchObserver
from server.observability.ledger_metrics import LedgerMetrics
from server.store import events, hold_reads, reads, report_reads
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
    ) -> None:
        """`metrics` and `tracer` are the server's observability (None: that part is off)."""
        self._pool = pool
        self.currencies = settings.currencies
        self._metrics = metrics
        observe = metrics is not None or tracer is not None
        self._writes = WriteShards(
            self.apply_batch,
            shards=settings.write_shards,
            batch_max=settings.write_batch_max,
            concurrency=settings.write_concurrency,
            queue_timeout_s=settings.db_pool_timeout_s,
            linger_s=settings.write_linger_ms / 1000,
            observer=BatchObserver("wallet.write_batch", tracer=tracer, metrics=metrics) if observe else None,
            database_reachable=self._database_reachable,
        )
        self._balance_reads: Coalescer[str, list[Wallet]] = Coalescer(
            self._read_balances,
            name="balance read",
            batch_max=settings.read_batch_max,
            concurrency=settings.read_concurrency,
            queue_timeout_s=settings.db_pool_timeout_s,
            linger_s=settings.read_linger_ms / 1000,
            observer=BatchObserver("wallet.balance_read_batch", tracer=tracer, metrics=None) if tracer else None,
            database_reachable=self._database_reachable,
        )
        self.expirer = Expirer(self, interval_s=settings.expirer_interval_s, batch_max=settings.expirer_batch_max)
        self.events = EventFeed(pool)
        if metrics is not None:
            metrics.watch_queue(lambda: self.queued_writes)
            metrics.watch_pool(pool.get_stats)
            metrics.watch_watchers(lambda: self.events.watchers)
        self._default_thresholds = {code: c.low_balance_threshold for code, c in settings.currencies.items()}
        self._event_retention = timedelta(days=settings.event_retention_days)

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
        await self._balance_reads.close()

    async def get_balances(self, customer_id: str, as_of: datetime | None = None) -> list[Wallet]:
        """Every supported currency's wallet (zero if never written) plus any other the customer holds.

        With `as_of` (not in the future), each wallet as it stood then: what fell
        due is posted first, so a credit that lapsed before `as_of` shows expired.
        """
        if as_of is None:
            return await self._balance_reads.submit(customer_id)
        await self._settle_if_due(customer_id)
        with database_errors():
            async with self._pool.connection() as conn:
                stored = await report_reads.select_wallets_as_of(conn, customer_id, as_of)
        return self._every_currency(customer_id, {w.currency: w for w in stored})

    async def summarize(self, query: SummaryQuery) -> Summary:
        """The query's buckets, after posting whatever fell due for the customer."""
        await self._settle_if_due(query.customer_id)
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

    async def hold(self, request: HoldRequest | CaptureRequest | ReleaseRequest) -> HoldOutcome:
        """Creates, captures or releases a hold (or replays that); raises the WalletError that refused it."""
        if isinstance(request, CaptureRequest | ReleaseRequest):
            _refuse_impossible_hold_id(request.hold_id)
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
                self._metrics.delivered(update.events)
            yield update

    async def prune_events(self, limit: int) -> int:
        """Removes up to about `limit` events older than the retention period; returns how many."""
        with database_errors():
            async with self._pool.connection() as conn, conn.transaction():
                return await events.delete_events_older_than(conn, self._event_retention, limit)

    async def settle(self, customer_ids: Sequence[str]) -> None:
        """Posts whatever fell due for the customers."""
        await asyncio.gather(*(self._writes.submit(SettleRequest(c)) for c in customer_ids))

    async def get_hold(self, customer_id: str, hold_id: str) -> Hold:
        _refuse_impossible_hold_id(hold_id)
        await self._settle_if_due(customer_id)
        with database_errors():
            async with self._pool.connection() as conn:
                hold = await hold_reads.select_hold(conn, customer_id, hold_id)
        if hold is None:
            raise HoldNotFound(hold_id=hold_id)
        return hold

    async def list_holds(self, query: HoldQuery) -> tuple[list[Hold], bool]:
        """A page of the customer's holds, newest first, and whether more follow."""
        await self._settle_if_due(query.customer_id)
        with database_errors():
            async with self._pool.connection() as conn:
                found = await hold_reads.list_holds(conn, query, query.page_size + 1)
        return found[: query.page_size], len(found) > query.page_size

    async def due_customers(self, limit: int) -> list[str]:
        """Up to `limit` customers with a hold that expired or a credit that lapsed, not yet posted."""
        with database_errors():
            async with self._pool.connection() as conn:
                return await hold_reads.select_due_customers(conn, limit)

    async def _settle_if_due(self, customer_id: str) -> None:
        with database_errors():
            async with self._pool.connection() as conn:
                due = await reads.customer_due(conn, customer_id)
        if due:
            await self.settle([customer_id])

    async def _read_balances(self, customer_ids: Sequence[str]) -> list[list[Wallet] | WalletError]:
        """The balances of many customers in one query (two when something fell due: settle, then read)."""
        unique = sorted(set(customer_ids))
        with database_errors():
            async with self._pool.connection() as conn:
                stored, due = await reads.select_wallets(conn, unique)
            if due:
                await self.settle(sorted(due))
                async with self._pool.connection() as conn:
                    stored, _ = await reads.select_wallets(conn, unique)
        by_customer: dict[str, dict[str, Wallet]] = {customer_id: {} for customer_id in customer_ids}
        for wallet in stored:
            by_customer[wallet.customer_id][wallet.currency] = wallet
        return [self._every_currency(customer_id, by_customer[customer_id]) for customer_id in customer_ids]

    def _every_currency(self, customer_id: str, stored: dict[str, Wallet]) -> list[Wallet]:
        """The stored wallets and a zero one for each supported currency without one, by currency."""
        wallets = {code: Wallet(customer_id, code, 0, None, None) for code in self.currencies} | stored
        return [wallets[code] for code in sorted(wallets)]

    async def apply_batch(self, requests: Sequence[Request]) -> list[Outcome]:
        """Applies the requests in order in one transaction; returns one outcome per request."""
        decision = await apply_in_one_transaction(self._pool, requests, self._default_thresholds)
        if self._metrics is not None:
            self._metrics.batch_committed(requests, decision)
        if decision.events:
            self.events.events_written()
        return decision.outcomes

    async def history(self, query: HistoryQuery) -> AsyncIterator[list[Entry]]:
        """Yields the customer's matching entries in order, one database batch at a time."""
        await self._settle_if_due(query.customer_id)
        async for entries in read_history(self._pool, query):
            if self._metrics is not None:
                self._metrics.exported(len(entries))
            yield entries
