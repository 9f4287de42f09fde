"""The WatchEvents use case: where a watch starts, then every matching event after it, as it is placed.

Each read is its own short query on a pool connection, so a watcher that
stalls holds no connection and no transaction; it holds at most one batch of
events in memory. A watch resumes exactly after its cursor: positions are
handed out in commit order (`server.store.events`), so nothing placed later
can land behind a position already read.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any, NamedTuple

import psycopg
from psycopg_pool import AsyncConnectionPool

from server.domain.cursors import cursor_of
from server.domain.errors import CursorExpired, FieldViolation, InvalidArgument
from server.domain.events import Event, WatchQuery
from server.domain.limits import EVENT_PLACE_BATCH_MAX, WATCH_EVENTS_PER_MESSAGE
from server.ledger.events_feed import EventFeed
from server.store import events
from server.store.db import database_errors

# How often a watcher whose filters match nothing hears how far the stream got (an empty message).
PROGRESS_S = 10.0


def _start(query: WatchQuery, last: int, oldest: int | None) -> int:
    """The position the watch starts after; raises when the cursor names no retained point."""
    if query.start_after is None:
        if query.from_oldest:
            return last if oldest is None else oldest - 1
        return last
    if query.start_after > last:
        raise InvalidArgument([FieldViolation("start_after_cursor", "is not a cursor this service issued")])
    # Resuming needs every event after the cursor: the oldest retained must come right after it (or none
    # may have been removed at all).
    first_needed = query.start_after + 1
    retained_from = last + 1 if oldest is None else oldest
    if first_needed < retained_from:
        raise CursorExpired(cursor=cursor_of(query.start_after), oldest_cursor=cursor_of(retained_from - 1))
    return query.start_after


class WatchUpdate(NamedTuple):
    """One message of a watch: its events, and the stream position it brings the watcher to.

    `position` may lie past the last event: events the filters left out are
    behind the watcher too, so a resume from it neither sees them again nor
    holds on to an old cursor while nothing matches.
    """

    events: list[Event]
    position: int


async def watch(
    pool: AsyncConnectionPool[psycopg.AsyncConnection[Any]], feed: EventFeed, query: WatchQuery
) -> AsyncIterator[WatchUpdate]:
    """Yields an empty update once the watch is live, then each batch of matching events as they are placed.

    While nothing matches, an empty update every PROGRESS_S tells the watcher how far the stream got.
    """
    async with feed.watching():
        with database_errors():
            async with pool.connection() as conn:
                # Every change committed before the watch goes live is placed before it: "from now" means
                # after those, and a caller that wrote, then watched, does not see its own earlier write.
                async with conn.transaction():
                    await events.place_events(conn, EVENT_PLACE_BATCH_MAX)
                last, oldest = await events.stream_bounds(conn)
        position = _start(query, last, oldest)
        yield WatchUpdate([], position)
        async for update in _follow(pool, feed, query, position, last):
            yield update


async def _follow(
    pool: AsyncConnectionPool[psycopg.AsyncConnection[Any]],
    feed: EventFeed,
    query: WatchQuery,
    position: int,
    last: int,
) -> AsyncIterator[WatchUpdate]:
    types = sorted(query.event_types, key=lambda t: t.value)
    told = time.monotonic()
    while not feed.stopping:
        upto = max(feed.last_position, last)
        if upto > position:
            with database_errors():
                async with pool.connection() as conn:
                    batch = await events.read_events(
                        conn,
                        after=position,
                        upto=upto,
                        customer_id=query.customer_id,
                        types=types,
                        limit=WATCH_EVENTS_PER_MESSAGE,
                    )
            if len(batch) == WATCH_EVENTS_PER_MESSAGE:
                position = batch[-1].position
                yield WatchUpdate(batch, position)
                told = time.monotonic()
                continue
            # Everything that matches up to `upto` is in this batch.
            position = upto
            if batch or time.monotonic() - told >= PROGRESS_S:
                yield WatchUpdate(batch, position)
                told = time.monotonic()
        await feed.wait_beyond(position)
