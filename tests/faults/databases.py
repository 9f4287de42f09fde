"""Scratch databases next to the session's one, for tests that damage or isolate their data."""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

import psycopg

from server.db import migrate


def with_database(url: str, name: str) -> str:
    """`url` pointing at database `name` on the same server (host, socket and user kept)."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, parts.fragment))


@contextlib.contextmanager
def scratch_database(database_url: str, *, migrated: bool = True) -> Iterator[str]:
    """A new database on the server of `database_url`, migrated unless told otherwise, dropped afterwards."""
    name = f"wallet_faults_{os.getpid()}_{secrets.token_hex(4)}"
    with psycopg.connect(database_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = with_database(database_url, name)
    try:
        if migrated:
            migrate(url)
        yield url
    finally:
        with psycopg.connect(database_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
