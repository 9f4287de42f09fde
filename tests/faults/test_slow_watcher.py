"""Goal: a watcher that stops reading slows no writer, pins no database connection and loses nothing.

Method: a watcher of one customer reads the first message, then stops reading
while 600 entries are written to that customer (flow control holds the
server's side of the stream back). Every write succeeds meanwhile, and once
they are done every pool connection is back in the pool: the stalled stream
holds none. Then the watcher reads again and gets all 600 events, in order.
"""

from __future__ import annotations

import asyncio

import grpc
import pytest

from server.app import WalletServer
from tests.e2e.helpers import entry_request
from tests.waiting import eventually
from wallet.v1 import wallet_pb2, wallet_pb2_grpc

pytestmark = pytest.mark.slow

WRITES = 600


async def test_a_stalled_watcher_pins_no_connection_and_then_receives_every_event(
    wallet_server: tuple[WalletServer, str], customer_id: str
) -> None:
    server, address = wallet_server
    # Without BDP probing the client's flow-control window stays small, so the server is held back early.
    async with grpc.aio.insecure_channel(address, options=[("grpc.http2.bdp_probe", 0)]) as channel:
        stub = wallet_pb2_grpc.WalletServiceStub(channel)
        call = stub.WatchEvents(wallet_pb2.WatchEventsRequest(customer_id=customer_id))
        assert list((await call.read()).events) == []  # live; from here on the watcher reads nothing
        for start in range(0, WRITES, 50):
            await asyncio.gather(
                *(
                    stub.CreateLedgerEntry(entry_request(customer_id, 1, idempotency_key=f"k{i}"), timeout=30)
                    for i in range(start, start + 50)
                )
            )

        def every_connection_back() -> bool:
            stats = server.pool.get_stats()
            return bool(stats["pool_available"] == stats["pool_size"])

        await eventually(every_connection_back, 30, "every connection back in the pool")
        assert not call.done()
        received: list[wallet_pb2.WalletEvent] = []
        while len(received) < WRITES:
            message = await asyncio.wait_for(call.read(), 60)
            assert message is not grpc.aio.EOF
            received.extend(message.events)
        call.cancel()
    balances = [e.wallet.balance for e in received]
    assert balances == list(range(1, WRITES + 1))
