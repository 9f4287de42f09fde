"""The read statements of holds: one hold, a page of a customer's holds, and who has something due."""

from __future__ import annotations

import functools
from datetime import timedelta
from typing import Any

import psycopg

from server.domain.holds import Hold, HoldQuery
from server.store.due import hold_due, lot_due
from server.store.rows import HOLD_COLUMN_LIST, hold_from_row
from server.store.service_time import AT_SCAN

_SELECT_HOLD = f"SELECT {HOLD_COLUMN_LIST} FROM holds WHERE customer_id = %(customer_id)s AND id = %(hold_id)s"

# Who has a hold that expired or a credit that lapsed, not yet posted (for the background expirer),
# at the scan's stable time (server.store.due) so that both scans use their partial expiry indexes.
_SELECT_DUE_CUSTOMERS = f"""
SELECT customer_id FROM holds h WHERE {hold_due("h", AT_SCAN)}
UNION
SELECT customer_id FROM credit_lots l WHERE {lot_due("l", AT_SCAN)}
LIMIT %(limit)s
"""


async def select_hold(conn: psycopg.AsyncConnection[Any], customer_id: str, hold_id: str) -> Hold | None:
    cursor = await conn.execute(_SELECT_HOLD, {"customer_id": customer_id, "hold_id": hold_id})
    row = await cursor.fetchone()
    return None if row is None else hold_from_row(row)


@functools.lru_cache(maxsize=16)
def _list_statement(*, currency: bool, status: bool, after_token: bool) -> str:
    conditions = ["customer_id = %(customer_id)s"]
    if currency:
        conditions.append("currency = %(currency)s")
    if status:
        conditions.append("status = %(status)s")
    if after_token:
        conditions.append("(created_at, id) < (%(before_at)s, %(before_id)s)")
    where = " AND ".join(conditions)
    return f"SELECT {HOLD_COLUMN_LIST} FROM holds WHERE {where} ORDER BY created_at DESC, id DESC LIMIT %(limit)s"


async def list_holds(conn: psycopg.AsyncConnection[Any], query: HoldQuery, limit: int) -> list[Hold]:
    """Up to `limit` of the query's holds, newest first, past the query's page position."""
    statement = _list_statement(
        currency=query.currency is not None, status=query.status is not None, after_token=query.before is not None
    )
    params = {
        "customer_id": query.customer_id,
        "currency": query.currency,
        "status": query.status.value if query.status else None,
        "before_at": query.before[0] if query.before else None,
        "before_id": query.before[1] if query.before else None,
        "limit": limit,
    }
    cursor = await conn.execute(statement, params)
    return [hold_from_row(row) for row in await cursor.fetchall()]


async def select_due_customers(conn: psycopg.AsyncConnection[Any], limit: int, clock_offset: timedelta) -> list[str]:
    cursor = await conn.execute(_SELECT_DUE_CUSTOMERS, {"limit": limit, "clock_offset": clock_offset})
    return [row[0] for row in await cursor.fetchall()]
