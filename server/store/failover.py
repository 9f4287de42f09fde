"""Telling a database that is gone from a service that is busy, and a lost COMMIT from a refused write.

While a primary fails over, the pool cannot open connections: a call then
waits the pool timeout and would be told SERVER_BUSY, which means "the
service is overloaded". `WalletPool` tells the two apart: a timeout while
the pool had room for another connection raises `DatabaseUnreachable`,
which the error mapping turns into DATABASE_UNAVAILABLE.

`commit_guard` marks the moment a write transaction starts to commit: a
connection that breaks before it lost an uncommitted transaction (nothing
applied: DATABASE_UNAVAILABLE), one that breaks after it may have committed
(COMMIT_OUTCOME_UNKNOWN: retry with the same key).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import psycopg
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from server.domain.errors import CommitOutcomeUnknown

# Errors the server answered with: the statement failed and the transaction with it, so nothing committed.
_ANSWERED = (
    psycopg.errors.LockNotAvailable,
    psycopg.errors.DeadlockDetected,
    psycopg.errors.SerializationFailure,
    psycopg.errors.QueryCanceled,
)


class DatabaseUnreachable(PoolTimeout):
    """No connection could be had in time because the database (no primary) could be reached."""


class WalletPool(AsyncConnectionPool[psycopg.AsyncConnection[Any]]):
    """The connection pool, knowing whether its database can be reached.

    A wait for a connection that times out while every connection is lent to
    a call means a busy service (SERVER_BUSY); one that times out while the
    pool had room to open another means the database did not give one in
    time: no primary is reachable (DATABASE_UNAVAILABLE).
    """

    # False once the health probe (server.app) or a wait found no database; True again on a connection.
    reachable: bool = True
    _lent: int = 0

    def __init__(
        self, conninfo: str, *, check: Callable[[psycopg.AsyncConnection[Any]], Awaitable[None]], **kwargs: Any
    ) -> None:
        self._check_idle = check
        super().__init__(conninfo, check=self._check_or_sweep, **kwargs)

    async def _check_or_sweep(self, conn: psycopg.AsyncConnection[Any]) -> None:
        """Checks a connection as it is handed out; a dead one means the others may be dead too.

        After a restart or a failover every idle connection is dead. The pool
        would find them one call at a time, and after the second one it backs
        off for up to a second, the whole wait of a call: so on the first dead
        one, the others are checked now (and replaced) by the pool's `check()`.
        """
        try:
            await self._check_idle(conn)
        except Exception:
            await self.check()
            raise

    async def getconn(self, timeout: float | None = None) -> psycopg.AsyncConnection[Any]:
        try:
            conn = await super().getconn(timeout)
        except PoolTimeout as error:
            if self._lent < self.max_size:
                self.reachable = False
                raise DatabaseUnreachable(str(error)) from error
            raise
        self._lent += 1
        self.reachable = True
        return conn

    async def putconn(self, conn: psycopg.AsyncConnection[Any]) -> None:
        self._lent -= 1
        await super().putconn(conn)


class CommitPhase:
    """Whether the transaction's COMMIT (or the writes travelling with it) may have reached the server."""

    def __init__(self) -> None:
        self.started = False


@contextlib.asynccontextmanager
async def commit_guard() -> AsyncIterator[CommitPhase]:
    """Raises CommitOutcomeUnknown if the connection breaks once `phase.started` is set."""
    phase = CommitPhase()
    try:
        yield phase
    except _ANSWERED:
        raise
    except (psycopg.OperationalError, psycopg.InterfaceError) as error:
        if phase.started:
            raise CommitOutcomeUnknown(
                "The connection to the database broke before the write's COMMIT was answered: it may or may not"
                " have applied; retry with the same idempotency key, which replays it if it did"
            ) from error
        raise
