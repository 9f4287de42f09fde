"""Fixtures shared by every test layer: a real database and a real server on port 0."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from typing import Any

import grpc
import psycopg
import pytest
import pytest_asyncio
from cryptography.fernet import Fernet
from psycopg_pool import AsyncConnectionPool

from server.app import WalletServer
from server.config import Settings
from server.ledger.clock import Clock
from server.store.db import create_pool
from tests.database import throwaway_database
from tests.nats_server import nats_server
from tests.scheduling import HeavyFirstScheduling, rank_files
from tests.serving import serving
from wallet.v1 import wallet_pb2_grpc


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    """URL of a migrated PostgreSQL database private to this test session."""
    with throwaway_database() as url:
        yield url


@pytest.fixture(scope="session")
def nats_url() -> Iterator[str]:
    """A NATS server with JetStream for this session (tests/nats_server.py), started on first use."""
    with nats_server() as url:
        yield url


@pytest.fixture(scope="session")
def settings() -> Settings:
    """Default settings, listening on an ephemeral port of the loopback interface.

    Calls wait up to 10 s, not 2 s, for their write batch or a connection: the
    in-process server shares its event loop with the test's clients, so a burst
    of a few hundred calls on a loaded machine could outlast 2 s and be refused
    SERVER_BUSY by design. Load shedding has its own tests, on server processes
    with the timeouts they set (tests/faults). The background expirer is off:
    reads and writes must settle expiry by themselves. Metrics are on, on a port
    the system picks (never the fixed 9464, which a developer's `make run` or a
    parallel test session may hold), so every test exercises their recording.
    """
    return replace(
        Settings(),
        listen_addr="127.0.0.1:0",
        metrics_addr="127.0.0.1:0",
        shutdown_grace_s=1.0,
        db_pool_timeout_s=10.0,
        expirer_interval_s=0,
        # Webhook secrets sealed with a key of the session's, not one generated under the repository's .data/.
        webhook_secret_key=Fernet.generate_key().decode(),
    )


@pytest.fixture
def customer_id() -> str:
    """A customer no other test touches, so tests need no cleanup."""
    return f"cus_{uuid.uuid4().hex[:16]}"


@pytest_asyncio.fixture(scope="session")
async def pool(
    settings: Settings, database_url: str
) -> AsyncIterator[AsyncConnectionPool[psycopg.AsyncConnection[Any]]]:
    """A connection pool on the test database, for tests that talk to the ledger directly."""
    pool = create_pool(settings, database_url)
    await pool.open(wait=True)
    yield pool
    await pool.close()


@pytest_asyncio.fixture(scope="session")
async def wallet_server(settings: Settings, database_url: str) -> AsyncIterator[tuple[WalletServer, str]]:
    """The real gRPC server on an ephemeral port; yields it with its address."""
    async with serving(settings, database_url) as server:
        yield server


@pytest_asyncio.fixture
async def stub(wallet_server: tuple[WalletServer, str]) -> AsyncIterator[wallet_pb2_grpc.WalletServiceStub]:
    """A WalletService stub on a fresh channel to the test server."""
    async with grpc.aio.insecure_channel(wallet_server[1]) as channel:
        yield wallet_pb2_grpc.WalletServiceStub(channel)


@pytest.fixture
def clock(wallet_server: tuple[WalletServer, str]) -> Clock:
    """The test server's clock: move it forward (`tests.waiting.move_past`) rather than wait for time to pass.

    Other tests share the server and see the time moved; they compute instants from `clock.now()`.
    """
    return wallet_server[0].ledger.clock


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Heavy work first (tests/scheduling.py), with or without workers."""
    rank_files(items)


def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> HeavyFirstScheduling:
    """`make test`'s workers take whole files, the browser tests as one unit (tests/scheduling.py)."""
    return HeavyFirstScheduling(config, log)
