"""A throwaway PostgreSQL database for one test session.

With DATABASE_URL set, a fresh database is created on that server and dropped
afterwards; without it, a private embedded PostgreSQL is started in a
temporary directory and deleted afterwards. Either way the tests run against
a real PostgreSQL with the real migrations applied; nothing is skipped.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import tempfile
from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

import psycopg

from server.store.db import embedded_postgres_server, libpq_url, migrate


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, parts.fragment))


@contextlib.contextmanager
def scratch_database(server_url: str, *, migrated: bool = True) -> Iterator[str]:
    """A new database on the server of `server_url`, migrated unless told otherwise, dropped afterwards."""
    name = f"wallet_test_{os.getpid()}_{secrets.token_hex(4)}"
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = _with_database(server_url, name)
    try:
        if migrated:
            migrate(url)
        yield url
    finally:
        with psycopg.connect(server_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _skip_flushes_to_disk(url: str) -> None:
    """Tells a private, throwaway PostgreSQL not to force its writes to disk.

    Only what survives the loss of the whole machine changes (nothing does: the
    server is deleted after the session); a crash or a kill of PostgreSQL itself
    still loses no commit, since every commit still reaches the operating system
    before it is acknowledged (synchronous_commit stays on). The suite commits
    tens of thousands of times, and each flush costs the machine time the tests
    share.
    """
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute("ALTER SYSTEM SET fsync = off")
        admin.execute("ALTER SYSTEM SET full_page_writes = off")
        admin.execute("SELECT pg_reload_conf()")


@contextlib.contextmanager
def throwaway_database() -> Iterator[str]:
    """Yields the URL of a new, migrated database that is gone after the block."""
    base = os.environ.get("DATABASE_URL")
    if base:
        with scratch_database(libpq_url(base)) as url:
            yield url
        return
    with tempfile.TemporaryDirectory(prefix="wallet-test-") as data_dir:
        os.chmod(data_dir, 0o755)
        server = embedded_postgres_server(data_dir)
        try:
            url = server.get_uri()
            _skip_flushes_to_disk(url)
            migrate(url)
            yield url
        finally:
            # Stop PostgreSQL before its folder is deleted, not at interpreter exit.
            server.cleanup()
