"""A test watcher of one customer's events that resumes after its last cursor whenever its stream breaks.

It keeps every event it was given, so a test can check them against the
ledger: exactly one per change, none repeated, in the customer's order.
"""

from __future__ import annotations

import asyncio
import contextlib

import grpc
import psycopg

from tests.faults.servers import FAST_RECONNECT
from tests.waiting import eventually
from wallet.v1 import wallet_pb2, wallet_pb2_grpc


class ResumingWatcher:
    def __init__(self, address: str, customer_id: str) -> None:
        self.address = address
        self.customer_id = customer_id
        self.events: list[wallet_pb2.WalletEvent] = []
        self.connections = 0
        self._task: asyncio.Task[None] | None = None
        self._arrived = asyncio.Event()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        assert self._task is not None
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task

    async def wait_for(self, count: int, timeout_s: float = 60.0) -> None:
        """Returns once `count` events arrived (fails after `timeout_s`, a safety bound only)."""
        await eventually(lambda: len(self.events) >= count, timeout_s, f"{count} events", wake=self._arrived)

    async def _run(self) -> None:
        cursor = ""
        while True:
            self.connections += 1
            request = wallet_pb2.WatchEventsRequest(
                customer_id=self.customer_id, start_after_cursor=cursor, from_oldest=not cursor
            )
            try:
                async with grpc.aio.insecure_channel(self.address, options=FAST_RECONNECT) as channel:
                    call = wallet_pb2_grpc.WalletServiceStub(channel).WatchEvents(request, wait_for_ready=True)
                    async for message in call:
                        for event in message.events:
                            self.events.append(event)
                            cursor = event.cursor
                        self._arrived.set()
            except grpc.aio.AioRpcError as error:
                if error.code() != grpc.StatusCode.UNAVAILABLE:
                    raise
            await asyncio.sleep(0.05)  # real time: the server was killed; back off a little before resuming


def stored_events(database_url: str, customer_id: str) -> list[tuple[int, str, str | None, str | None]]:
    """The customer's committed events as the ledger holds them: (seq, type, entry id, hold id)."""
    with psycopg.connect(database_url) as conn:
        return [
            (int(seq), kind, entry_id, hold_id)
            for seq, kind, entry_id, hold_id in conn.execute(
                "SELECT seq, event_type, entry_id, hold_id FROM wallet_events WHERE customer_id = %s ORDER BY seq",
                (customer_id,),
            )
        ]


def assert_exactly_the_stored_events(watcher: ResumingWatcher, database_url: str) -> None:
    """The watcher holds one event per committed change of its customer, in order, none twice."""
    stored = stored_events(database_url, watcher.customer_id)
    names = {value: name.removeprefix("EVENT_TYPE_").lower() for name, value in wallet_pb2.EventType.items()}
    seen = [(names[e.event_type], e.entry.id or None, e.hold.id or None) for e in watcher.events]
    assert seen == [(kind, entry_id, hold_id) for _, kind, entry_id, hold_id in stored]
