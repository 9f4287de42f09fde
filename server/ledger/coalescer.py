"""Coalesces concurrent requests into shared database round trips.

A hot wallet serialises its writers on one row lock, so one transaction per
request caps throughput at the database's commit rate; and every statement
costs the server a round trip's worth of driver work. Instead, requests wait
in one queue; at most `concurrency` runners each take up to `batch_max` of
them, in arrival order, and apply them together (for writes: one transaction,
one lock per customer, one commit; for balance reads: one query). Each request
keeps its own outcome. Under light load a batch holds a single request, so
latency does not grow.

Under heavy load a runner lingers a moment (`linger_s`) before taking its
next batch, but only after a batch of at least LINGER_AFTER requests: the
server is then CPU-bound, and each transaction's fixed cost (round trips,
statements, the event placement after it) shared by more requests leaves
more of the CPU for calls (measured: 4-8 ms cut server CPU per call by 10-30%
in scenarios 1-3, docs/performance.md). A few concurrent callers never wait
for it. Waiting for a fixed time measured better than waiting only until as
many requests as the last batch carried were back: batches then never grow.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

from server.domain.errors import (
    CommitOutcomeUnknown,
    DatabaseUnavailable,
    InternalError,
    LockTimeout,
    ServerBusy,
    ShuttingDown,
    StatementTimeout,
    WalletError,
)
from server.observability.batches import BatchObserver, Ticket

logger = logging.getLogger(__name__)

# A runner lingers only after a batch of at least this many requests: the sign
# of a saturated server, not of a few concurrent callers, who should not wait.
LINGER_AFTER = 4

RequestT = TypeVar("RequestT")
ResultT = TypeVar("ResultT")

# Errors that say nothing about the requests themselves: the whole batch shares them.
_SHARED_FAILURES = (DatabaseUnavailable, CommitOutcomeUnknown, ServerBusy, LockTimeout, StatementTimeout)


class _Pending(Generic[RequestT, ResultT]):
    """A queued request, its caller's future, and whether a runner has taken it."""

    __slots__ = ("future", "request", "taken", "ticket", "timer")

    def __init__(self, request: RequestT, future: asyncio.Future[ResultT], ticket: Ticket | None) -> None:
        self.request = request
        self.future = future
        self.taken = False
        self.timer: asyncio.TimerHandle | None = None
        self.ticket = ticket

    def expire(self, database_reachable: Callable[[], bool]) -> None:
        """Fails the request if it is still waiting in the queue: the service is busy, or its database gone."""
        if not self.taken and not self.future.done():
            self.future.set_exception(
                ServerBusy("The request waited too long for a database transaction; retry with backoff")
                if database_reachable()
                else DatabaseUnavailable("No database primary can be reached; retry with backoff")
            )


class Coalescer(Generic[RequestT, ResultT]):
    """Applies requests through `apply_batch`, many per batch under load."""

    def __init__(
        self,
        apply_batch: Callable[[Sequence[RequestT]], Awaitable[list[ResultT | WalletError]]],
        *,
        name: str,
        batch_max: int,
        concurrency: int,
        queue_timeout_s: float,
        linger_s: float = 0.0,
        observer: BatchObserver | None = None,
        database_reachable: Callable[[], bool] = lambda: True,
    ) -> None:
        assert batch_max >= 1 and concurrency >= 1 and queue_timeout_s > 0 and linger_s >= 0
        # What the batches are, for the log: "write", "balance read".
        self._name = name
        self._queue_timeout_s = queue_timeout_s
        self._linger_s = linger_s
        self._apply_batch = apply_batch
        self._batch_max = batch_max
        self._concurrency = concurrency
        self._pending: deque[_Pending[RequestT, ResultT]] = deque()
        self._runners: set[asyncio.Task[None]] = set()
        self._closed = False
        self._loop: asyncio.AbstractEventLoop | None = None
        # Metrics and traces of the batches (docs/observability.md); None: nothing recorded.
        self._observer = observer
        # Whether a request that waited too long was held up by load (SERVER_BUSY) or a lost database.
        self._database_reachable = database_reachable

    @property
    def queued(self) -> int:
        """Requests waiting for a runner (scraped as wallet_write_queue_depth)."""
        return len(self._pending)

    async def submit(self, request: RequestT) -> ResultT:
        """Applies one request; raises its WalletError if it was refused.

        If the caller is cancelled before a runner took the request, the request
        is dropped unapplied; once taken, it commits or not with its batch.
        """
        if self._closed:
            raise ShuttingDown("The server is shutting down; retry on another instance")
        # Python 3.11 pays a getpid system call in every get_running_loop(); a
        # coalescer serves one loop, so it asks once.
        loop = self._loop
        if loop is None:
            loop = self._loop = asyncio.get_running_loop()
        future: asyncio.Future[ResultT] = loop.create_future()
        # A request still queued when the timeout fires fails fast instead of
        # waiting behind a stuck batch; one that a runner took rides its batch out.
        pending = _Pending(request, future, self._observer.enqueued() if self._observer is not None else None)
        pending.timer = loop.call_later(self._queue_timeout_s, pending.expire, self._database_reachable)
        self._pending.append(pending)
        if len(self._runners) < self._concurrency:
            # A context of its own: a runner serves many callers and must not carry the first one's
            # (its trace span, above all) into every later batch.
            task = asyncio.create_task(self._run(), context=contextvars.Context())
            self._runners.add(task)
        return await future

    async def close(self) -> None:
        """Refuses new requests and waits for the runners to finish the queued ones."""
        self._closed = True
        if self._runners:
            await asyncio.gather(*self._runners, return_exceptions=True)

    async def _run(self) -> None:
        try:
            await self._take_batches()
        finally:
            # Leaves the set as it stops, not in a done callback a loop turn later: a request
            # submitted in that turn would see every runner busy and wait for none.
            self._runners.discard(asyncio.current_task())

    async def _take_batches(self) -> None:
        carried = 0
        while self._pending:
            if carried >= LINGER_AFTER and self._linger_s and len(self._pending) < self._batch_max:
                await asyncio.sleep(self._linger_s)
            batch: list[_Pending[RequestT, ResultT]] = []
            while self._pending and len(batch) < self._batch_max:
                item = self._pending.popleft()
                # Skip requests whose callers gave up, or that expired in the queue.
                if not item.future.done():
                    item.taken = True
                    if item.timer is not None:
                        item.timer.cancel()
                    batch.append(item)
            carried = len(batch)
            if batch:
                if self._observer is None:
                    outcomes = await self._apply([item.request for item in batch])
                else:
                    tickets = [item.ticket for item in batch if item.ticket is not None]
                    with self._observer.batch(tickets):
                        outcomes = await self._apply([item.request for item in batch])
                for item, outcome in zip(batch, outcomes, strict=True):
                    future = item.future
                    if future.done():
                        continue
                    if isinstance(outcome, WalletError):
                        future.set_exception(outcome)
                    else:
                        future.set_result(outcome)

    async def _apply(self, requests: list[RequestT]) -> list[ResultT | WalletError]:
        try:
            return await self._apply_batch(requests)
        except _SHARED_FAILURES as error:
            return [error] * len(requests)
        except WalletError as error:
            if len(requests) == 1:
                return [error]
        except Exception:
            logger.exception("%s batch failed", self._name)
            if len(requests) == 1:
                return [InternalError("Internal error")]
        # One request may have poisoned the batch: isolate it by applying each alone.
        logger.warning("retrying a failed %s batch of %d requests one by one", self._name, len(requests))
        outcomes: list[ResultT | WalletError] = []
        for request in requests:
            outcomes.extend(await self._apply([request]))
        return outcomes
