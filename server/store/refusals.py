"""Stored refusals past their retention: removed in small batches by the background pass."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import psycopg

# Oldest first, through stored_refusals_created_idx; a bounded batch keeps each pass's transaction short.
_DELETE_OLD = """
WITH old AS (
    SELECT customer_id, idempotency_key FROM stored_refusals
    WHERE created_at < %(cutoff)s
    ORDER BY created_at
    LIMIT %(limit)s
)
DELETE FROM stored_refusals r USING old
WHERE r.customer_id = old.customer_id AND r.idempotency_key = old.idempotency_key
"""


async def delete_refusals_older_than(
    conn: psycopg.AsyncConnection[Any], age: timedelta, limit: int, now: datetime | None = None
) -> int:
    """Deletes up to `limit` refusals stored more than `age` before `now` (the database's clock if None)."""
    if now is None:
        cursor = await conn.execute("SELECT now()")
        row = await cursor.fetchone()
        assert row is not None
        now = row[0]
    cursor = await conn.execute(_DELETE_OLD, {"cutoff": now - age, "limit": limit})
    return cursor.rowcount
