"""The process's view of the event stream: places committed events and wakes its watchers.

One listening connection per process (outside the pool) hears two channels:
writers' commits (`EVENTS_WRITTEN`), which wake the placer, and placements
(`EVENTS_PLACED`, from this or any other process), which advance
`last_position` and wake every watcher of this process. Watchers read the
events themselves, each on a short pool connection, so a slow watcher costs
nobody else anything. Notifications are the only wake-up in normal running;
a fallback pass every `fallback_s` places and learns what a lost connection
may have kept it from hearing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import psycopg
from psycopg_pool import AsyncConnectionPool

from server.store import events

logger = logging.getLogger(__name__)

# Events placed per sequencer transaction: bounds its length and its lock time.
PLACE_BATCH_MAX = 5_000


class EventFeed:
    def __init__(self, pool: AsyncConnectionPool[psycopg.AsyncConnection[Any]], *, fallback_s: float = 1.0) -> None:
        self._pool = pool
        self._fallback_s = fallback_s
        self.last_position = 0
        self._moved = asyncio.Event()
        self._written = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        # Checked by the loops too, so a swallowed cancellation cannot keep them alive (see server.app).
        self._stopping = False

    def start(self) -> None:
        if not self._tasks:
            self._written.set()  # place whatever was left unplaced before this process started
            self._tasks = [asyncio.create_task(self._listen()), asyncio.create_task(self._place())]

    async def stop(self) -> None:
        self._stopping = True
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        self._wake()  # the watchers then see that the feed is stopping

    @property
    def stopping(self) -> bool:
        return self._stopping

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
                        # What happened while not listening: learn it, then hear the rest.
                        self._written.set()
                        last, _ = await events.stream_bounds(conn)
                        self._advance(last)
                        async for note in conn.notifies(timeout=self._fallback_s):
                            if note.channel == events.EVENTS_PLACED:
                                self._advance(int(note.payload))
                            else:
                                self._written.set()
            except psycopg.Error as error:
                logger.warning("event feed: database connection lost (%s); reconnecting", type(error).__name__)
                await asyncio.sleep(self._fallback_s)
            except Exception:
                logger.exception("event feed: listening failed; reconnecting")
                await asyncio.sleep(self._fallback_s)

    async def _place(self) -> None:
        while not self._stopping:
            await self._written.wait()
            self._written.clear()
            try:
                while not self._stopping:
                    async with self._pool.connection() as conn, conn.transaction():
                        placed = await events.place_events(conn, PLACE_BATCH_MAX)
                    if placed < PLACE_BATCH_MAX:
                        break
            except Exception as error:  # the database is down or the pool is busy: try again soon
                logger.warning("event feed: placing events failed (%s); retrying", type(error).__name__)
                await asyncio.sleep(self._fallback_s)
                self._written.set()
