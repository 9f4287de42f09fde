"""Telling a database that is gone from a service that is busy, and a lost COMMIT from a refused write.

While a primary fails over, the pool cannot open connections: a call then
waits the pool timeout and would be told SERVER_BUSY, which means "the
service is overloaded". `WalletPool` tells the two apart: a timeout while
the database cannot be reached (the health probe says so, or the pool failed
to connect during the wait) raises `DatabaseUnreachable`, which the error
mapping turns into DATABASE_UNAVAILABLE.

`commit_guard` marks the moment a write transaction starts to commit: a
connection that breaks before it lost an uncommitted transaction (nothing
applied: DATABASE_UNAVAILABLE), one that breaks after it may have committed
(COMMIT_OUTCOME_UNKNOWN: retry with the same key).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
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
    """The connection pool, knowing whether its database can be reached."""

    # Set by the health monitor's probe (server.app) and by the pool's own connection attempts.
    reachable: bool = True

    async def getconn(self, timeout: float | None = None) -> psycopg.AsyncConnection[Any]:
        errors_before = self.get_stats().get("connections_errors", 0)
        try:
            conn = await super().getconn(timeout)
        except PoolTimeout as error:
            failed_to_connect = self.get_stats().get("connections_errors", 0) > errors_before
            if failed_to_connect or not self.reachable:
                self.reachable = False
                raise DatabaseUnreachable(str(error)) from error
            raise
        return conn


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
