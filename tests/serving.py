"""A real gRPC server in this process, on an ephemeral port: the session's (`wallet_server`) or a test's own."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from server.app import WalletServer, create_server
from server.config import Settings


@contextlib.asynccontextmanager
async def serving(settings: Settings, database_url: str) -> AsyncIterator[tuple[WalletServer, str]]:
    """The server on `database_url`, started, with its address; stopped at the end of the block."""
    server, port = await create_server(settings, database_url)
    await server.start()
    try:
        yield server, f"127.0.0.1:{port}"
    finally:
        await server.stop(1.0)
