"""Failures a caller must be able to handle: deadlines inside a locked write, and an unreachable database."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import grpc
import psycopg
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from server.app import create_server
from server.config import Settings
from tests.e2e.helpers import entry_request, error_info
from tests.waiting import eventually
from wallet.v1 import wallet_pb2, wallet_pb2_grpc


async def test_a_deadline_that_expires_while_the_wallet_is_locked_leaves_all_or_nothing(
    stub: wallet_pb2_grpc.WalletServiceStub, customer_id: str, database_url: str
) -> None:
    """Another transaction holds the customer's lock past the caller's deadline; the caller
    gets DEADLINE_EXCEEDED, and a retry with the same key afterwards yields exactly one entry."""
    await stub.CreateLedgerEntry(entry_request(customer_id, 100))
    request = entry_request(customer_id, 40, idempotency_key="deadline-1")
    async with await psycopg.AsyncConnection.connect(database_url) as blocker:
        await blocker.execute("SELECT 1 FROM ledger_heads WHERE customer_id = %s FOR UPDATE", (customer_id,))
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await stub.CreateLedgerEntry(request, timeout=0.5)
        assert raised.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
        await blocker.rollback()
    retried = await stub.CreateLedgerEntry(request, timeout=10)
    entries = [
        e
        async for m in stub.ListLedgerEntries(wallet_pb2.ListLedgerEntriesRequest(customer_id=customer_id))
        for e in m.entries
    ]
    assert [e.amount for e in entries] == [100, 40]
    assert retried.entry.id == entries[1].id
    assert retried.wallet.balance == 140


async def test_an_unreachable_database_gives_unavailable_and_not_serving(settings: Settings) -> None:
    unreachable = "postgresql://postgres@127.0.0.1:9/nowhere?connect_timeout=1"
    server, port = await create_server(replace(settings, db_pool_timeout_s=0.3), unreachable)
    await server.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = wallet_pb2_grpc.WalletServiceStub(channel)
            with pytest.raises(grpc.aio.AioRpcError) as raised:
                await stub.GetBalances(wallet_pb2.GetBalancesRequest(customer_id="cus_1"), timeout=5)
            assert raised.value.code() == grpc.StatusCode.UNAVAILABLE
            assert error_info(raised.value).reason in {"SERVER_BUSY", "DATABASE_UNAVAILABLE"}
            with pytest.raises(grpc.aio.AioRpcError) as raised:
                await stub.CreateLedgerEntry(entry_request("cus_1", 1), timeout=5)
            assert raised.value.code() == grpc.StatusCode.UNAVAILABLE
            health = health_pb2_grpc.HealthStub(channel)

            async def not_serving() -> bool:
                check = await health.Check(health_pb2.HealthCheckRequest(service="wallet.v1.WalletService"))
                return bool(check.status == health_pb2.HealthCheckResponse.NOT_SERVING)

            await eventually(not_serving, 15, "health to say NOT_SERVING", poll_s=0.1)
    finally:
        await server.stop(0)


async def test_a_stopping_server_tells_health_watchers_not_serving(settings: Settings, database_url: str) -> None:
    server, port = await create_server(settings, database_url)
    await server.start()
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        watch = health_pb2_grpc.HealthStub(channel).Watch(health_pb2.HealthCheckRequest(service=""))
        seen = []
        async for update in watch:
            seen.append(update.status)
            if update.status == health_pb2.HealthCheckResponse.SERVING:
                stopping = asyncio.create_task(server.stop(1.0))
            if update.status == health_pb2.HealthCheckResponse.NOT_SERVING and len(seen) > 1:
                break
        await stopping
    assert seen[-2:] == [health_pb2.HealthCheckResponse.SERVING, health_pb2.HealthCheckResponse.NOT_SERVING]
