"""Exactly-once resume of the event stream while two server processes write thousands of customers at once.

A watcher of every customer reconnects every few hundred events, alternating
between the two processes, each time after the last cursor it received. Its
events must then be exactly the ledger's entries: none skipped, none repeated,
and each customer's in the order they were applied.
"""

from __future__ import annotations

import concurrent.futures
import logging
import threading
import time
from collections import defaultdict
from collections.abc import Iterator

import grpc
import psycopg
import pytest

from tests.consistency import assert_ledger_consistent
from tests.database import scratch_database
from tests.e2e.helpers import entry_request, error_reason
from tests.processes import running_server
from tests.waiting import eventually_blocking
from wallet.v1 import wallet_pb2, wallet_pb2_grpc

pytestmark = pytest.mark.slow
logger = logging.getLogger(__name__)

CUSTOMERS = 300
WRITES_PER_WRITER = 120
WRITERS = 8
RECONNECT_EVERY = 150
# Contention refusals are answered by retrying with the same key, as docs/errors.md asks.
CONTENTION = {(grpc.StatusCode.UNAVAILABLE, "SERVER_BUSY"), (grpc.StatusCode.ABORTED, "LOCK_TIMEOUT")}


def _write(address: str, writer: int) -> None:
    with grpc.insecure_channel(address) as channel:
        stub = wallet_pb2_grpc.WalletServiceStub(channel)
        for i in range(WRITES_PER_WRITER):
            customer = f"cus_ev_{(writer * 37 + i * 11) % CUSTOMERS}"
            request = entry_request(customer, 1 + i % 5, idempotency_key=f"w{writer}-{i}")
            # Back off between attempts, as the contract asks.
            eventually_blocking(
                lambda: _applied(stub, request),  # noqa: B023 (called before the loop moves on)
                300,
                f"writer {writer}'s entry {i} applied",
                poll_s=0.05,
                backoff_to_s=0.5,
            )


def _applied(stub: wallet_pb2_grpc.WalletServiceStub, request: wallet_pb2.CreateLedgerEntryRequest) -> bool:
    """Sends the entry; false if refused for contention (to be retried with the same key)."""
    try:
        stub.CreateLedgerEntry(request, timeout=30)
    except grpc.RpcError as error:
        if (error.code(), error_reason(error)) not in CONTENTION:
            raise
        return False
    return True


def _until_cancelled(call: grpc.Future) -> Iterator[wallet_pb2.WatchEventsResponse]:
    try:
        yield from call
    except grpc.RpcError as error:
        if error.code() != grpc.StatusCode.CANCELLED:
            raise


class ReconnectingWatcher:
    """Watches every customer, reconnecting after every RECONNECT_EVERY events with the last cursor."""

    def __init__(self, addresses: list[str]) -> None:
        self.addresses = addresses
        self.events: list[wallet_pb2.WalletEvent] = []
        self.connections = 0
        self.enough = threading.Event()
        self.wanted = 10**9
        self._call: grpc.Future | None = None

    def stop(self) -> None:
        self.enough.set()
        if self._call is not None:
            self._call.cancel()

    def run(self) -> None:
        cursor = ""
        while not self.enough.is_set():
            address = self.addresses[self.connections % len(self.addresses)]
            self.connections += 1
            with grpc.insecure_channel(address) as channel:
                stub = wallet_pb2_grpc.WalletServiceStub(channel)
                request = wallet_pb2.WatchEventsRequest(start_after_cursor=cursor, from_oldest=not cursor)
                call = stub.WatchEvents(request, timeout=120)
                self._call = call
                taken = 0
                for message in _until_cancelled(call):
                    for event in message.events:
                        self.events.append(event)
                        cursor = event.cursor
                        taken += 1
                    if len(self.events) >= self.wanted:
                        self.enough.set()
                    if taken >= RECONNECT_EVERY or self.enough.is_set():
                        call.cancel()
                        break


def test_a_watcher_that_reconnects_while_two_processes_write_gets_every_entry_exactly_once_in_order(
    database_url: str,
) -> None:
    with scratch_database(database_url) as url:
        with running_server(url) as (_, first, _), running_server(url) as (_, second, _):
            watcher = ReconnectingWatcher([first, second])
            watching = threading.Thread(target=watcher.run, daemon=True)
            watching.start()
            started = time.monotonic()
            with concurrent.futures.ThreadPoolExecutor(max_workers=WRITERS) as pool:
                for future in [pool.submit(_write, [first, second][w % 2], w) for w in range(WRITERS)]:
                    future.result()
            with psycopg.connect(url) as conn:
                entries = conn.execute("SELECT customer_id, id, seq FROM ledger_entries").fetchall()
            assert len(entries) == WRITERS * WRITES_PER_WRITER
            logger.info("writes took %.1f s; %d events so far", time.monotonic() - started, len(watcher.events))
            watcher.wanted = len(entries)
            eventually_blocking(
                lambda: len(watcher.events) >= watcher.wanted or not watching.is_alive(), 120, "every event"
            )
            watcher.stop()
            watching.join(timeout=60)
            assert len(watcher.events) >= len(entries), f"{len(watcher.events)} of {len(entries)} events arrived"
            logger.info("all events after %.1f s, %d connections", time.monotonic() - started, watcher.connections)
        assert watcher.connections >= len(entries) // RECONNECT_EVERY
        cursors = [e.cursor for e in watcher.events]
        assert len(set(cursors)) == len(cursors), "an event was delivered twice"
        assert sorted(e.entry.id for e in watcher.events) == sorted(entry_id for _, entry_id, _ in entries)
        position = {entry_id: seq for _, entry_id, seq in entries}
        by_customer: dict[str, list[int]] = defaultdict(list)
        for event in watcher.events:
            by_customer[event.customer_id].append(position[event.entry.id])
        assert all(seqs == sorted(seqs) for seqs in by_customer.values()), "a customer's events came out of order"
        assert_ledger_consistent(url)
