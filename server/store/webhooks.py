"""Webhook endpoints, their delivery log and the sinks' positions: the SQL.

Secrets are sealed by the caller's SecretBox before they are written and
opened after they are read; the database holds ciphertext only.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import psycopg
from psycopg_pool import AsyncConnectionPool

from server.domain.events import EventType
from server.domain.webhooks import DISABLED, DeliveryAttempt, WebhookEndpoint
from server.store import events

_ENDPOINT_COLUMNS = (
    "id, url, event_types, description, status, created_at, disabled_reason, start_position, last_position"
)


def _endpoint(row: Sequence[Any]) -> WebhookEndpoint:
    types = frozenset(EventType(value) for value in row[2])
    return WebhookEndpoint(row[0], row[1], types, row[3], row[4], row[5], row[6], int(row[7]), int(row[8]))


async def insert_endpoint(
    conn: psycopg.AsyncConnection[Any],
    endpoint_id: str,
    url: str,
    types: Sequence[EventType],
    description: str,
    sealed_secret: bytes,
) -> WebhookEndpoint:
    """Creates an endpoint that receives every event placed after now (committed ones are placed first).

    Runs in the caller's transaction, which holds the stream's lock until it ends: no event can be
    placed between the position read here and the endpoint's creation.
    """
    _, last = await events.place_events(conn, 1_000_000)
    cursor = await conn.execute(
        f"""INSERT INTO webhook_endpoints (id, url, event_types, description, secret, start_position, last_position)
            VALUES (%s, %s, %s::jsonb, %s, %s, %s, %s) RETURNING {_ENDPOINT_COLUMNS}""",
        (endpoint_id, url, json.dumps(sorted(t.value for t in types)), description, sealed_secret, last, last),
    )
    row = await cursor.fetchone()
    assert row is not None
    return _endpoint(row)


async def get_endpoint(conn: psycopg.AsyncConnection[Any], endpoint_id: str) -> WebhookEndpoint | None:
    cursor = await conn.execute(f"SELECT {_ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE id = %s", (endpoint_id,))
    row = await cursor.fetchone()
    return None if row is None else _endpoint(row)


async def list_endpoints(
    conn: psycopg.AsyncConnection[Any], after_id: str, limit: int, *, active_only: bool = False
) -> list[WebhookEndpoint]:
    """Endpoints in id (creation) order after `after_id`."""
    only = " AND status = 'active'" if active_only else ""
    cursor = await conn.execute(
        f"SELECT {_ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE id > %s{only} ORDER BY id LIMIT %s",
        (after_id, limit),
    )
    return [_endpoint(row) for row in await cursor.fetchall()]


async def delete_endpoint(conn: psycopg.AsyncConnection[Any], endpoint_id: str) -> bool:
    cursor = await conn.execute("DELETE FROM webhook_endpoints WHERE id = %s", (endpoint_id,))
    return cursor.rowcount == 1


async def rotate_secret(
    conn: psycopg.AsyncConnection[Any], endpoint_id: str, sealed_secret: bytes, previous_valid_until: datetime
) -> bool:
    cursor = await conn.execute(
        """UPDATE webhook_endpoints
           SET previous_secret = secret, secret = %s, previous_secret_expires_at = %s WHERE id = %s""",
        (sealed_secret, previous_valid_until, endpoint_id),
    )
    return cursor.rowcount == 1


async def sealed_secrets(
    conn: psycopg.AsyncConnection[Any], endpoint_id: str
) -> tuple[bytes, bytes | None, datetime | None] | None:
    """The endpoint's sealed current secret, and its previous one with the instant it stops being used."""
    cursor = await conn.execute(
        "SELECT secret, previous_secret, previous_secret_expires_at FROM webhook_endpoints WHERE id = %s",
        (endpoint_id,),
    )
    row = await cursor.fetchone()
    return None if row is None else (bytes(row[0]), None if row[1] is None else bytes(row[1]), row[2])


async def disable_endpoint(conn: psycopg.AsyncConnection[Any], endpoint_id: str, reason: str) -> None:
    await conn.execute(
        "UPDATE webhook_endpoints SET status = %s, disabled_reason = %s WHERE id = %s",
        (DISABLED, reason[:1000], endpoint_id),
    )


async def advance_endpoint(conn: psycopg.AsyncConnection[Any], endpoint_id: str, position: int) -> None:
    await conn.execute(
        "UPDATE webhook_endpoints SET last_position = greatest(last_position, %s) WHERE id = %s",
        (position, endpoint_id),
    )


async def attempts_so_far(
    conn: psycopg.AsyncConnection[Any], endpoint_id: str, after: int, upto: int
) -> dict[int, tuple[int, datetime]]:
    """Per event position in (after, upto]: the attempts already made, and when the first was."""
    cursor = await conn.execute(
        """SELECT event_position, max(attempt), min(attempted_at) FROM webhook_deliveries
           WHERE endpoint_id = %s AND event_position > %s AND event_position <= %s GROUP BY event_position""",
        (endpoint_id, after, upto),
    )
    return {int(row[0]): (int(row[1]), row[2]) for row in await cursor.fetchall()}


async def record_attempts(conn: psycopg.AsyncConnection[Any], attempts: Sequence[DeliveryAttempt]) -> None:
    if not attempts:
        return
    async with conn.cursor() as cursor:
        await cursor.executemany(
            """INSERT INTO webhook_deliveries (endpoint_id, event_position, attempt, http_status, error, attempted_at,
                   duration_ms, next_attempt_at, delivered) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)
               ON CONFLICT DO NOTHING""",
            [
                (
                    a.endpoint_id,
                    a.event_position,
                    a.attempt,
                    a.http_status,
                    a.error[:1000],
                    a.attempted_at,
                    a.duration_ms,
                    a.next_attempt_at,
                    a.delivered,
                )
                for a in attempts
            ],
        )


async def list_deliveries(
    conn: psycopg.AsyncConnection[Any], endpoint_id: str, before: tuple[int, int] | None, limit: int
) -> list[DeliveryAttempt]:
    """Attempts newest first: by event position, then attempt, descending; `before` is where a page ended."""
    position, attempt = before if before is not None else (2**63 - 1, 2**31 - 1)
    cursor = await conn.execute(
        """SELECT endpoint_id, event_position, attempt, http_status, error, attempted_at, duration_ms,
                  next_attempt_at, delivered
           FROM webhook_deliveries WHERE endpoint_id = %s AND (event_position, attempt) < (%s, %s)
           ORDER BY event_position DESC, attempt DESC LIMIT %s""",
        (endpoint_id, position, attempt, limit),
    )
    return [DeliveryAttempt(*row) for row in await cursor.fetchall()]


async def prune_deliveries(conn: psycopg.AsyncConnection[Any], endpoint_id: str) -> int:
    """Removes the endpoint's attempts at events retention has already removed."""
    cursor = await conn.execute(
        """DELETE FROM webhook_deliveries WHERE endpoint_id = %s
           AND event_position < coalesce((SELECT min(position) FROM wallet_events), 0)""",
        (endpoint_id,),
    )
    return cursor.rowcount


async def sink_position(conn: psycopg.AsyncConnection[Any], sink: str) -> int | None:
    cursor = await conn.execute("SELECT position FROM sink_positions WHERE sink = %s", (sink,))
    row = await cursor.fetchone()
    return None if row is None else int(row[0])


async def set_sink_position(conn: psycopg.AsyncConnection[Any], sink: str, position: int) -> None:
    await conn.execute(
        """INSERT INTO sink_positions (sink, position) VALUES (%s, %s)
           ON CONFLICT (sink) DO UPDATE SET position = greatest(sink_positions.position, excluded.position),
               updated_at = now()""",
        (sink, position),
    )


async def try_lead(conn: psycopg.AsyncConnection[Any], key: int) -> bool:
    """Takes the session advisory lock `key` if free; held until the connection closes."""
    cursor = await conn.execute("SELECT pg_try_advisory_lock(%s)", (key,))
    row = await cursor.fetchone()
    return bool(row and row[0])


async def still_connected(conn: psycopg.AsyncConnection[Any]) -> None:
    """Raises if the (leader's) connection is gone, and with it the advisory lock."""
    await conn.execute("SELECT 1")


async def dedicated_connection(pool: AsyncConnectionPool[psycopg.AsyncConnection[Any]]) -> psycopg.AsyncConnection[Any]:
    """A connection outside the pool (a leader's, which holds its advisory lock as long as it lives)."""
    conninfo, options = pool.conninfo, pool.kwargs
    assert isinstance(conninfo, str) and isinstance(options, dict)
    return await psycopg.AsyncConnection.connect(conninfo, **{**options, "autocommit": True})
