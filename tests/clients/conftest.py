"""Fixtures of the client tests: the real server's address, and fault injectors in front of it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from server.app import WalletServer
from tests.clients.faults import Faults, TcpCutter, faulty_proxy
from wallet_client import AsyncWalletClient, RetryPolicy

# Retries fast enough for tests, still exponential and jittered.
FAST_RETRY = RetryPolicy(max_attempts=4, initial_backoff_s=0.01, max_backoff_s=0.05, total_timeout_s=10.0)


@pytest.fixture
def target(wallet_server: tuple[WalletServer, str]) -> str:
    """Address of the real wallet server."""
    return wallet_server[1]


@pytest_asyncio.fixture
async def aclient(target: str) -> AsyncIterator[AsyncWalletClient]:
    async with AsyncWalletClient(target, retry=FAST_RETRY) as client:
        yield client


@pytest_asyncio.fixture
async def proxy(target: str) -> AsyncIterator[tuple[str, Faults]]:
    """A gRPC proxy to the real server that injects UNAVAILABLE when told to."""
    async with faulty_proxy(target) as running:
        yield running


@pytest_asyncio.fixture
async def tcp_cutter(target: str) -> AsyncIterator[TcpCutter]:
    """A TCP relay to the real server that drops its connections when told to."""
    cutter = TcpCutter(target)
    await cutter.start()
    yield cutter
    await cutter.close()
