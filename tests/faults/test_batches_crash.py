"""Goal: SIGKILL during a stream of batch writes, then retries with the same keys, loses nothing and doubles nothing.

Method: eight callers each send a run of BatchCreateLedgerEntries calls (non-atomic
batches of credits and debits, and atomic transfers between two customers) to a
server process that is SIGKILLed once some batches are answered, and started
again on the same address and database. Each unanswered batch is resent
unchanged (same keys). Then every entry a caller was told applied is in the
ledger exactly once under its key, every refused one is absent, each atomic
transfer is whole or absent, and the verifier passes.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

import grpc
import psycopg
import pytest

from tests.consistency import assert_ledger_consistent
from tests.faults.servers import server_process
from tests.holds_storm import RETRYABLE
from wallet.v1 import wallet_pb2, wallet_pb2_grpc

pytestmark = pytest.mark.slow

CALLERS = 8
BATCHES_PER_CALLER = 6
ENTRIES_PER_BATCH = 40


class BatchStream:
    """The callers, and what each was told: entry key -> entry id (applied or replayed), refused keys."""

    def __init__(self, address: str, customers: list[str]) -> None:
        self.address = address
        self.customers = customers
        self.answered: dict[str, str] = {}
        self.refused: set[str] = set()
        self.transfers: list[tuple[str, str]] = []
        self.failed_attempts: Counter[str] = Counter()
        self.acknowledged = 0
        self._progress = asyncio.Condition()

    def batch(self, caller: int, number: int) -> wallet_pb2.BatchCreateLedgerEntriesRequest:
        if number % 3 == 2:
            # An atomic transfer between two customers, in either direction.
            source, target = self.customers[caller % 4], self.customers[(caller + 1) % 4]
            key = f"t{caller}-{number}"
            self.transfers.append((f"{key}-out", f"{key}-in"))
            requests = [
                _entry(source, 30, wallet_pb2.ENTRY_TYPE_DEBIT, f"{key}-out"),
                _entry(target, 30, wallet_pb2.ENTRY_TYPE_CREDIT, f"{key}-in"),
            ]
            return wallet_pb2.BatchCreateLedgerEntriesRequest(requests=requests, atomic=True)
        requests = []
        for i in range(ENTRIES_PER_BATCH):
            customer = self.customers[(caller + i) % 4]
            kind = wallet_pb2.ENTRY_TYPE_DEBIT if i % 3 == 0 else wallet_pb2.ENTRY_TYPE_CREDIT
            requests.append(_entry(customer, 7 + i % 5, kind, f"b{caller}-{number}-{i}"))
        return wallet_pb2.BatchCreateLedgerEntriesRequest(requests=requests)

    async def run(self) -> None:
        await asyncio.gather(*(self._caller(c) for c in range(CALLERS)))

    async def wait_acknowledged(self, count: int, timeout_s: float = 60.0) -> None:
        async with self._progress:
            await asyncio.wait_for(self._progress.wait_for(lambda: self.acknowledged >= count), timeout_s)

    async def _caller(self, caller: int) -> None:
        async with grpc.aio.insecure_channel(self.address) as channel:
            stub = wallet_pb2_grpc.WalletServiceStub(channel)
            for number in range(BATCHES_PER_CALLER):
                request = self.batch(caller, number)
                await self._send(stub, request)

    async def _send(
        self, stub: wallet_pb2_grpc.WalletServiceStub, request: wallet_pb2.BatchCreateLedgerEntriesRequest
    ) -> None:
        response = await self._answer(stub, request)
        if response is None:
            self.refused.update(r.idempotency_key for r in request.requests)
        else:
            for sent, result in zip(request.requests, response.results, strict=True):
                if result.HasField("error"):
                    assert result.error.reason == "INSUFFICIENT_WALLET_FUNDS", result.error
                    self.refused.add(sent.idempotency_key)
                else:
                    self.answered[sent.idempotency_key] = result.response.entry.id
        async with self._progress:
            self.acknowledged += 1
            self._progress.notify_all()

    async def _answer(
        self, stub: wallet_pb2_grpc.WalletServiceStub, request: wallet_pb2.BatchCreateLedgerEntriesRequest
    ) -> wallet_pb2.BatchCreateLedgerEntriesResponse | None:
        """The batch's answer, resent unchanged after every retryable failure; None if refused as a whole."""
        while True:
            try:
                response: wallet_pb2.BatchCreateLedgerEntriesResponse = await stub.BatchCreateLedgerEntries(
                    request, timeout=10
                )
                return response
            except grpc.aio.AioRpcError as error:
                if error.code() not in RETRYABLE:
                    # Only an atomic transfer may be refused as a whole, and only for want of money.
                    assert request.atomic and error.code() == grpc.StatusCode.FAILED_PRECONDITION, error
                    return None
                self.failed_attempts[error.code().name] += 1
                await asyncio.sleep(0.05)  # backoff before resending, not synchronisation


def _entry(
    customer_id: str, amount: int, kind: wallet_pb2.EntryType.ValueType, key: str
) -> wallet_pb2.CreateLedgerEntryRequest:
    return wallet_pb2.CreateLedgerEntryRequest(
        customer_id=customer_id,
        amount=amount,
        currency="USD",
        entry_type=kind,
        idempotency_key=key,
    )


async def test_a_sigkill_during_a_stream_of_batches_then_retries_with_the_same_keys_loses_and_doubles_nothing(
    database_url: str, customers: list[str], tmp_path: Path
) -> None:
    with server_process(database_url, tmp_path / "server.log") as server:
        stream = BatchStream(server.address, customers)
        running = asyncio.create_task(stream.run())
        await stream.wait_acknowledged(CALLERS)
        server.kill()
        await asyncio.to_thread(server.start)
        await running
    assert sum(stream.failed_attempts.values()) > 0, "the kill hit no call"
    with psycopg.connect(database_url) as conn:
        stored: dict[str, str] = dict(
            conn.execute(
                "SELECT idempotency_key, id FROM ledger_entries WHERE customer_id = ANY(%s) AND idempotency_key <> ''",
                (customers,),
            ).fetchall()
        )
    assert stored == stream.answered
    assert not stream.refused & set(stored)
    for out_key, in_key in stream.transfers:
        assert (out_key in stored) == (in_key in stored), (out_key, in_key)
    assert_ledger_consistent(database_url)
