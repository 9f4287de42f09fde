"""Stored refusals past their retention: removed in small batches by the background pass."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import psycopg

from server.store.service_time import AT_SCAN

# Oldest first, through stored_refusals_created_idx; a bounded batch keeps each pass's transaction short.
_DELETE_OLD = f"""
WITH old AS (
    SELECT customer_id, idempotency_key FROM stored_refusals
    WHERE created_at < {AT_SCAN} - %(age)s
    ORDER BY created_at
    LIMIT %(limit)s
)
DELETE FROM stored_refusals r USING old
WHERE r.customer_id = old.customer_id AND r.idempotency_key = old.idempotency_key
"""


async def delete_refusals_older_than(
    conn: psycopg.AsyncConnection[Any], age: timedelta, limit: int, clock_offset: timedelta
) -> int:
    """Deletes up to `limit` refusals stored more than `age` before now (the database's, plus the service
    clock's offset); returns how many."""
    cursor = await conn.execute(_DELETE_OLD, {"age": age, "limit": limit, "clock_offset": clock_offset})
    return cursor.rowcount
