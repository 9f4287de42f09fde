"""A customer's ledger lock held from outside the server, to put the server's write of it in a known state.

While a test holds the customer's head row `FOR UPDATE`, a write of that
customer waits inside its transaction, on its database session, for as long
as the test likes (give the server a lock timeout longer than the test's
waits). `wait_for_lock_waiter` waits for that state itself, instead of for a
while: a fault caused then (a terminated session, a stopped database, a
SIGTERM) hits a write in flight for sure.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import psycopg

from tests.waiting import eventually_blocking

_LOCK_WAITERS = (
    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
    " AND application_name = 'wallet-server' AND wait_event_type = 'Lock'"
)


@contextlib.contextmanager
def locked_customer(database_url: str, customer_id: str) -> Iterator[psycopg.Connection]:
    """Holds the customer's ledger lock until the block ends or the caller rolls back.

    Closing the session at the end releases the lock even when a fault has
    killed the session meanwhile (a rollback would then fail).
    """
    conn = psycopg.connect(database_url)
    try:
        locked = conn.execute("SELECT 1 FROM ledger_heads WHERE customer_id = %s FOR UPDATE", (customer_id,)).fetchone()
        assert locked is not None, f"{customer_id} has no ledger head yet: write to it once first"
        yield conn
    finally:
        conn.close()


def lock_waiters(database_url: str) -> int:
    """How many sessions of wallet servers on this database wait for a lock."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        row = conn.execute(_LOCK_WAITERS).fetchone()
    return int(row[0]) if row else 0


def wait_for_lock_waiter(database_url: str, timeout_s: float = 30.0) -> None:
    """Waits until a session of a wallet server waits for a lock (fails after `timeout_s`)."""
    with psycopg.connect(database_url, autocommit=True) as conn:

        def waiting() -> bool:
            row = conn.execute(_LOCK_WAITERS).fetchone()
            return row is not None and row[0] > 0

        eventually_blocking(waiting, timeout_s, "a write of the server waiting for the lock")
