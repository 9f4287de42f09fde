"""The event stream's SQL: placing committed events in the stream, reading it, retention.

Writers put their events in `wallet_events` in their own transaction, with a
per-customer `seq` but no stream `position`: positions taken at write time
would commit out of order (a reader that has passed position 7 could later
find 6 committed), which is the trap every resumable cursor must avoid.
Instead the sequencer (`place_events`) numbers committed events after the
fact, one sequencer transaction at a time (the `event_stream` row is its
lock), so positions become visible in increasing order and a cursor is
simply the last position a watcher was given.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import psycopg
from psycopg import sql
from psycopg_pool import AsyncConnectionPool

from server.domain.events import Event, EventType
from server.domain.model import Wallet
from server.store.columns import ColumnList, render, some_of
from server.store.rows import ENTRY_COLUMN_LIST, HOLD_COLUMN_LIST, entry_from_row, hold_from_row, qualified
from server.store.schema import wallet_events
from server.store.service_time import AT_SCAN

# Placers notify this channel with the last position when they placed events; processes with watchers listen.
EVENTS_PLACED = "wallet_events_placed"

_LOCK_STREAM = "SELECT last_position FROM event_stream WHERE id = 1 FOR UPDATE"

# Numbers up to `limit` unplaced events after `last`. Taken in (customer, seq)
# order, the batch holds a prefix of each customer's unplaced events: a
# customer's later event commits only after its earlier ones (the customer's
# lock), so a snapshot that sees it sees them too.
_PLACE = f"""
WITH pending AS (
    SELECT customer_id, seq, row_number() OVER (ORDER BY customer_id, seq) AS n
    FROM (
        SELECT customer_id, seq FROM wallet_events WHERE position IS NULL
        ORDER BY customer_id, seq LIMIT %(limit)s
    ) unplaced
), placed AS (
    -- Each row is found by its key. `position IS NULL` here let a generic plan look rows up through
    -- (customer_id, position) instead: every unplaced and dead entry of the customer per row, which
    -- for a hot wallet ran past the statement timeout. The guard below says the same (positions are
    -- positive) without matching that index.
    UPDATE wallet_events v SET position = %(last)s + p.n
    FROM pending p
    WHERE v.customer_id = p.customer_id AND v.seq = p.seq AND coalesce(v.position, 0) = 0
    RETURNING v.position
), advanced AS (
    UPDATE event_stream SET last_position = last_position + (SELECT count(*) FROM placed) WHERE id = 1
    RETURNING last_position
)
SELECT last_position, pg_notify('{EVENTS_PLACED}', last_position::text) FROM advanced
WHERE (SELECT count(*) FROM placed) > 0
"""

_BOUNDS = "SELECT last_position, (SELECT min(position) FROM wallet_events) FROM event_stream WHERE id = 1"

_EVENT_TYPES = {event_type.value: event_type for event_type in EventType}
# What a read takes of the event's own row, in the order `_event_from_row` reads it; the event's entry and
# hold (if any) follow, whole.
_EVENT_COLUMNS = ColumnList(
    some_of(
        wallet_events,
        (
            "position",
            "customer_id",
            "seq",
            "event_type",
            "currency",
            "occurred_at",
            "threshold",
            "wallet_balance",
            "wallet_held",
            "wallet_version",
            "wallet_threshold",
            "wallet_created_at",
            "wallet_updated_at",
        ),
    ),
    "v",
)
_ENTRY_AT = len(_EVENT_COLUMNS.names)
_HOLD_AT = _ENTRY_AT + len(ENTRY_COLUMN_LIST.names)


def _read_statement(*, customer: bool, types: bool) -> str:
    filters = [sql.SQL("v.position > %(after)s"), sql.SQL("v.position <= %(upto)s")]
    if customer:
        filters.append(sql.SQL("v.customer_id = %(customer_id)s"))
    if types:
        filters.append(sql.SQL("v.event_type = ANY(ARRAY(SELECT jsonb_array_elements_text(%(types)s::jsonb)))"))
    statement = sql.SQL("""
SELECT {event}, {entry}, {hold}
FROM wallet_events v
LEFT JOIN ledger_entries e ON e.customer_id = v.customer_id AND e.id = v.entry_id
LEFT JOIN holds h ON h.customer_id = v.customer_id AND h.id = v.hold_id
WHERE {filters}
ORDER BY v.position
LIMIT %(limit)s
""")
    return render(
        statement.format(
            event=sql.SQL(_EVENT_COLUMNS),
            entry=sql.SQL(qualified("e", ENTRY_COLUMN_LIST)),
            hold=sql.SQL(qualified("h", HOLD_COLUMN_LIST)),
            filters=sql.SQL(" AND ").join(filters),
        )
    )


_READS = {(c, t): _read_statement(customer=c, types=t) for c in (False, True) for t in (False, True)}

# Removes the oldest events that occurred before the horizon, as a prefix of
# the stream (so what is retained stays contiguous), and records how far
# retention reached.
_DELETE_OLD = f"""
WITH cut AS (
    SELECT max(position) AS upto FROM (
        SELECT position FROM wallet_events
        WHERE position IS NOT NULL AND occurred_at < {AT_SCAN} - %(age)s
        ORDER BY position LIMIT %(limit)s
    ) old
), deleted AS (
    DELETE FROM wallet_events WHERE position <= (SELECT upto FROM cut) RETURNING occurred_at
)
UPDATE event_stream SET retained_after = GREATEST(retained_after, (SELECT max(occurred_at) FROM deleted))
WHERE id = 1 AND EXISTS (SELECT 1 FROM deleted)
RETURNING (SELECT count(*) FROM deleted)
"""


async def listening_connection(
    pool: AsyncConnectionPool[psycopg.AsyncConnection[Any]],
) -> psycopg.AsyncConnection[Any]:
    """A connection of its own (outside the pool, as it waits indefinitely) listening for placements."""
    # The pool's own conninfo and options: create_pool gives plain values, never callables.
    conninfo, options = pool.conninfo, pool.kwargs
    assert isinstance(conninfo, str) and isinstance(options, dict)
    conn = await psycopg.AsyncConnection.connect(conninfo, **{**options, "autocommit": True})
    await conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(EVENTS_PLACED)))
    return conn


async def place_events(conn: psycopg.AsyncConnection[Any], limit: int) -> tuple[int, int]:
    """Gives up to `limit` committed unplaced events their stream positions; returns how many, and the last position.

    Runs in the caller's transaction; the stream row stays locked until it ends.
    """
    cursor = await conn.execute(_LOCK_STREAM)
    row = await cursor.fetchone()
    assert row is not None, "event_stream has no row: run the migrations"
    last = int(row[0])
    cursor = await conn.execute(_PLACE, {"last": last, "limit": limit})
    placed = await cursor.fetchone()
    return (0, last) if placed is None else (int(placed[0]) - last, int(placed[0]))


async def stream_bounds(conn: psycopg.AsyncConnection[Any]) -> tuple[int, int | None]:
    """The last position placed, and the oldest retained (None when no event is retained)."""
    cursor = await conn.execute(_BOUNDS)
    row = await cursor.fetchone()
    assert row is not None, "event_stream has no row: run the migrations"
    return int(row[0]), None if row[1] is None else int(row[1])


async def read_events(
    conn: psycopg.AsyncConnection[Any],
    *,
    after: int,
    upto: int,
    customer_id: str,
    types: Sequence[EventType],
    limit: int,
) -> list[Event]:
    """Placed events in (after, upto], in stream order, of the customer ("" for all) and types (empty for all)."""
    params: dict[str, Any] = {"after": after, "upto": upto, "limit": limit}
    if customer_id:
        params["customer_id"] = customer_id
    if types:
        params["types"] = json.dumps([t.value for t in types])
    cursor = await conn.execute(_READS[(bool(customer_id), bool(types))], params)
    return [_event_from_row(row) for row in await cursor.fetchall()]


async def delete_events_older_than(
    conn: psycopg.AsyncConnection[Any], age: timedelta, limit: int, clock_offset: timedelta
) -> int:
    """Deletes up to about `limit` of the oldest events that occurred more than `age` ago; returns how many.

    Ago by the database's clock plus the service clock's offset (`server.ledger.clock`).
    """
    cursor = await conn.execute(_DELETE_OLD, {"age": age, "limit": limit, "clock_offset": clock_offset})
    row = await cursor.fetchone()
    return 0 if row is None else int(row[0])


def _event_from_row(row: Sequence[Any]) -> Event:
    event_type = _EVENT_TYPES[row[3]]
    wallet = Wallet(row[1], row[4], row[7], row[11], row[12], row[8], row[9], row[10])
    entry = entry_from_row(row[_ENTRY_AT:_HOLD_AT]) if row[_ENTRY_AT] is not None else None
    hold = hold_from_row(row[_HOLD_AT:]) if row[_HOLD_AT] is not None else None
    if hold is not None and event_type is EventType.HOLD_CREATED:
        # The row shows the hold as it is now; its creation event shows it as it was then.
        hold = hold.as_created()
    return Event(row[1], row[2], event_type, row[4], row[5], wallet, entry, hold, row[6], row[0])
