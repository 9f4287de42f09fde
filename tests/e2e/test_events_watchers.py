"""Many watchers at once: each receives every event while writes flow."""

from __future__ import annotations

import asyncio

import grpc

from tests.e2e.helpers import entry_request
from wallet.v1 import wallet_pb2, wallet_pb2_grpc

WATCHERS = 100
WRITES = 40


async def _watch(
    stub: wallet_pb2_grpc.WalletServiceStub, customer_id: str, live: asyncio.Event, count: int
) -> list[str]:
    call = stub.WatchEvents(wallet_pb2.WatchEventsRequest(customer_id=customer_id))
    ids: list[str] = []
    try:
        async for message in call:
            live.set()
            ids.extend(event.entry.id for event in message.events)
            if len(ids) >= count:
                return ids
    finally:
        call.cancel()
    raise AssertionError("the stream ended")


async def test_a_hundred_watchers_each_receive_every_event_while_writes_flow(
    wallet_server: tuple[object, str], customer_id: str
) -> None:
    async with grpc.aio.insecure_channel(wallet_server[1]) as channel:
        stub = wallet_pb2_grpc.WalletServiceStub(channel)
        lives = [asyncio.Event() for _ in range(WATCHERS)]
        watchers = [asyncio.create_task(_watch(stub, customer_id, live, WRITES)) for live in lives]
        await asyncio.wait_for(asyncio.gather(*(live.wait() for live in lives)), 60)
        written = await asyncio.gather(
            *(stub.CreateLedgerEntry(entry_request(customer_id, 1 + i, idempotency_key=f"k{i}")) for i in range(WRITES))
        )
        received = await asyncio.wait_for(asyncio.gather(*watchers), 60)
    # Every watcher got every entry once, all in the one order the ledger applied them.
    assert all(sorted(ids) == sorted(r.entry.id for r in written) for ids in received)
    assert len({tuple(ids) for ids in received}) == 1
