"""One process at a time does a job: whoever holds a PostgreSQL advisory lock on a connection of its own.

The lock lives as long as the connection: a process that dies (even by
SIGKILL) drops it at once, and another process takes it at its next try
(every `retry_s`). The leader checks its connection every `check_s` and stops
leading the moment it fails, since the lock may be gone with it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine
from typing import Any

import psycopg
from psycopg_pool import AsyncConnectionPool

from server.store import webhooks

logger = logging.getLogger(__name__)

# Advisory lock keys (one bigint space per database): arbitrary, fixed, documented in docs/webhooks.md.
WEBHOOK_LOCK = 0x57414C4C_0001
NATS_LOCK = 0x57414C4C_0002


async def lead_while_holding(
    pool: AsyncConnectionPool[psycopg.AsyncConnection[Any]],
    key: int,
    job: Callable[[], Coroutine[Any, Any, None]],
    *,
    name: str,
    retry_s: float = 1.0,
    check_s: float = 1.0,
    leading: Callable[[bool], None] = lambda _: None,
) -> None:
    """Runs `job` whenever this process holds the lock, until cancelled; tells `leading` when that changes."""
    while True:
        conn: psycopg.AsyncConnection[Any] | None = None
        try:
            conn = await webhooks.dedicated_connection(pool)
            while not await webhooks.try_lead(conn, key):
                await asyncio.sleep(retry_s)
            logger.info("%s: leading", name)
            leading(True)
            work = asyncio.create_task(job())
            try:
                while not work.done():
                    await asyncio.wait({work}, timeout=check_s)
                    await webhooks.still_connected(conn)
                await work  # re-raises what ended the job
            finally:
                work.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await work
        except asyncio.CancelledError:
            raise
        except Exception as error:
            # The database or the sink is unreachable (or the job failed): say what, and try again.
            logger.warning("%s: stopped leading (%s: %s); trying again", name, type(error).__name__, str(error)[:200])
            await asyncio.sleep(retry_s)
        finally:
            leading(False)
            if conn is not None:
                with contextlib.suppress(Exception):
                    await conn.close()
