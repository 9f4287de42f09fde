"""The process's view of the event stream: places committed events and wakes its watchers.

Placing: a write batch that wrote events wakes this process's placer once it
has committed (`events_written`), which numbers every committed unplaced event
(`server.store.events.place_events`, one placer at a time across processes)
and notifies `EVENTS_PLACED`. A fallback pass every `fallback_s` places what a
process that died between its commit and its placement left behind.

Watching: while this process has watchers, one listening connection (outside
the pool) hears `EVENTS_PLACED` from every process and advances
`last_position`, waking the watchers, which read the events themselves on
short pool connections. Without watchers nothing listens: a listening
connection nobody reads would fill with notifications, and a PostgreSQL
backend blocked writing to it holds up cluster-wide operations such as
DROP DATABASE.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

import psycopg
from psycopg_pool import AsyncConnectionPool

from server.domain.limits import EVENT_PLACE_BATCH_MAX
from server.store import events

logger = logging.getLogger(__name__)


class EventFeed:
    def __init__(self, pool: AsyncConnectionPool[psycopg.AsyncConnection[Any]], *, fallback_s: float = 1.0) -> None:
        self._pool = pool
        self._fallback_s = fallback_s
        self.last_position = 0
        self._moved = asyncio.Event()
        self._written = asyncio.Event()
        self._placer: asyncio.Task[None] | None = None
        self._listener: asyncio.Task[None] | None = None
        self._watchers = 0
        # Checked by the loops too, so a swallowed cancellation cannot keep them alive (see server.app).
        self._stopping = False

    def start(self) -> None:
        if self._placer is None:
            self._written.set()  # place whatever was left unplaced before this process started
            self._placer = asyncio.create_task(self._place())

    async def stop(self) -> None:
        self._stopping = True
        for task in (self._placer, self._listener):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._placer = self._listener = None
        self._wake()  # the watchers then see that the feed is stopping

    @property
    def stopping(self) -> bool:
        return self._stopping

    @property
    def watchers(self) -> int:
        return self._watchers

    def events_written(self) -> None:
        """Called after a batch that wrote events has committed: place them now."""
        self._written.set()

    @contextlib.asynccontextmanager
    async def watching(self) -> AsyncIterator[None]:
        """Keeps the listening connection open while at least one watcher is inside the block."""
        self._watchers += 1
        if self._listener is None and not self._stopping:
            self._listener = asyncio.create_task(self._listen())
        try:
            yield
        finally:
            self._watchers -= 1
            if self._watchers == 0 and self._listener is not None:
                self._listener.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._listener
                self._listener = None

    async def wait_beyond(self, position: int) -> None:
        """Returns once an event beyond `position` is placed (or the feed stops)."""
        while self.last_position <= position and not self._stopping:
            moved = self._moved
            await moved.wait()

    def _advance(self, position: int) -> None:
        if position > self.last_position:
            self.last_position = position
            self._wake()

    def _wake(self) -> None:
        moved, self._moved = self._moved, asyncio.Event()
        moved.set()

    async def _listen(self) -> None:
        while not self._stopping:
            try:
                async with await events.listening_connection(self._pool) as conn:
                    while not self._stopping:
                        # What was placed while not listening: learn it, then hear the rest.
                        last, _ = await events.stream_bounds(conn)
                        self._advance(last)
                        async for note in conn.notifies(timeout=self._fallback_s):
                            self._advance(int(note.payload))
            except psycopg.Error as error:
                logger.warning("event feed: database connection lost (%s); reconnecting", type(error).__name__)
                await asyncio.sleep(self._fallback_s)
            except Exception:
                logger.exception("event feed: listening failed; reconnecting")
                await asyncio.sleep(self._fallback_s)

    async def _place(self) -> None:
        while not self._stopping:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._written.wait(), self._fallback_s)
            self._written.clear()
            try:
                while not self._stopping:
                    # Pipelined: BEGIN travels with the stream lock and COMMIT with the placement,
                    # two round trips instead of four for a transaction that follows every write batch.
                    async with self._pool.connection() as conn, conn.pipeline(), conn.transaction():
                        placed, last = await events.place_events(conn, EVENT_PLACE_BATCH_MAX)
                    self._advance(last)
                    if placed < EVENT_PLACE_BATCH_MAX:
                        break
            except Exception as error:  # the database is down or the pool is busy: try again soon
                logger.warning("event feed: placing events failed (%s); retrying", type(error).__name__)
                await asyncio.sleep(self._fallback_s)
                self._written.set()
