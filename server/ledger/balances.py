"""Balances: each supported currency's wallet of a customer, now (coalesced reads) or as of an instant.

Current balances of concurrent callers are read together, many customers in
one query that also says who has something due; those are settled through
the write path and read again, so no caller sees money that has expired.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

import psycopg
from opentelemetry.trace import Tracer
from psycopg_pool import AsyncConnectionPool

from server.config import Settings
from server.domain.errors import WalletError
from server.domain.model import Wallet
from server.ledger.clock import Clock
from server.ledger.coalescer import Coalescer
from server.ledger.settling import DueSettler
from server.observability.batches import BatchObserver
from server.store import reads, report_reads
from server.store.db import database_errors


class Balances:
    """Balance reads over one pool; `close()` finishes the queued ones."""

    def __init__(
        self,
        pool: AsyncConnectionPool[psycopg.AsyncConnection[Any]],
        settler: DueSettler,
        clock: Clock,
        settings: Settings,
        tracer: Tracer | None,
        database_reachable: Callable[[], bool] = lambda: True,
    ) -> None:
        self._pool = pool
        self._settler = settler
        self._clock = clock
        self._currencies: Mapping[str, object] = settings.currencies
        self._reads: Coalescer[str, list[Wallet]] = Coalescer(
            self._read_balances,
            name="balance read",
            batch_max=settings.read_batch_max,
            concurrency=settings.read_concurrency,
            queue_timeout_s=settings.db_pool_timeout_s,
            linger_s=settings.read_linger_ms / 1000,
            observer=BatchObserver("wallet.balance_read_batch", tracer=tracer, metrics=None) if tracer else None,
            database_reachable=database_reachable,
        )

    async def close(self) -> None:
        await self._reads.close()

    async def get(self, customer_id: str, as_of: datetime | None = None) -> list[Wallet]:
        """Every supported currency's wallet (zero if never written) plus any other the customer holds.

        With `as_of` (not in the future), each wallet as it stood then: what fell
        due is posted first, so a credit that lapsed before `as_of` shows expired.
        """
        if as_of is None:
            return await self._reads.submit(customer_id)
        await self._settler.settle_if_due(customer_id)
        with database_errors():
            async with self._pool.connection() as conn:
                stored = await report_reads.select_wallets_as_of(conn, customer_id, as_of)
        return self._every_currency(customer_id, {w.currency: w for w in stored})

    async def _read_balances(self, customer_ids: Sequence[str]) -> list[list[Wallet] | WalletError]:
        """The balances of many customers in one query (two when something fell due: settle, then read)."""
        unique = sorted(set(customer_ids))
        with database_errors():
            async with self._pool.connection() as conn:
                stored, due = await reads.select_wallets(conn, unique, self._clock.offset)
            if due:
                await self._settler.settle(sorted(due))
                async with self._pool.connection() as conn:
                    stored, _ = await reads.select_wallets(conn, unique, self._clock.offset)
        by_customer: dict[str, dict[str, Wallet]] = {customer_id: {} for customer_id in customer_ids}
        for wallet in stored:
            by_customer[wallet.customer_id][wallet.currency] = wallet
        return [self._every_currency(customer_id, by_customer[customer_id]) for customer_id in customer_ids]

    def _every_currency(self, customer_id: str, stored: dict[str, Wallet]) -> list[Wallet]:
        """The stored wallets and a zero one for each supported currency without one, by currency."""
        wallets = {code: Wallet(customer_id, code, 0, None, None) for code in self._currencies} | stored
        return [wallets[code] for code in sorted(wallets)]
