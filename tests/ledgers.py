"""A `Ledger` of its own on any database, for tests that drive the use cases without a server."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import replace

from server.config import Settings
from server.ledger import Ledger
from server.store.db import create_pool


@contextlib.asynccontextmanager
async def ledger_on(database_url: str) -> AsyncIterator[Ledger]:
    """A ledger with a pool of its own (the background expirer off), closed after the block."""
    settings = replace(Settings(), expirer_interval_s=0)
    pool = create_pool(settings, database_url)
    await pool.open(wait=True)
    ledger = Ledger(pool, settings)
    try:
        yield ledger
    finally:
        await ledger.close()
        await pool.close()
