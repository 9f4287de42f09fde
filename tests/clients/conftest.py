"""Fixtures of the client tests: the real server's address, and fault injectors in front of it."""

from __future__ import annotations

import asyncio
import uuid
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


LONG_HISTORY_ENTRIES = 2_500


@pytest_asyncio.fixture(scope="session")
async def long_history(wallet_server: tuple[WalletServer, str]) -> str:
    """A customer with 2,500 entries (the server streams them in 3 messages), awkward text included.

    Reasons hold commas, quotes, newlines and non-ASCII characters, so that
    exports must quote and escape them correctly.
    """
    customer = f"cus_long_{uuid.uuid4().hex[:12]}"
    reasons = ["plain", 'with "quotes", and commas', "two\nlines", "₹ rupee café", ""]
    async with AsyncWalletClient(wallet_server[1], retry=FAST_RETRY) as client:
        await client.credit(customer, 10**12, "USD", reason="opening balance")
        await client.credit(customer, 10**12, "INR", reason="opening balance")
        for start in range(1, LONG_HISTORY_ENTRIES, 250):
            # Concurrent writes of one customer may apply in any order; the history keeps that order.
            await asyncio.gather(
                *(
                    client.create_entry(
                        customer,
                        "debit" if n % 3 == 0 else "credit",
                        n,
                        "INR" if n % 4 == 0 else "USD",
                        reason=reasons[n % len(reasons)],
                        metadata={"n": str(n), "note": "a,b"} if n % 2 else None,
                    )
                    for n in range(start, min(start + 250, LONG_HISTORY_ENTRIES - 1))
                )
            )
    return customer
