"""The write path: one coalescer for single requests, and shards by customer for batches of entries.

Single requests (an entry, a hold, a threshold, a settlement) all meet in
one queue and coalesce: one transaction at a time gathers every request
that arrived while the previous one committed, which measured fastest for
them (splitting them by customer made each transaction smaller and cost
23% of the write mix's throughput, docs/performance.md).

Batches of entries are already large, and one transaction at a time left
the machine half idle under them: while PostgreSQL wrote and committed one,
the server waited, and while the server decided the next, PostgreSQL
waited (1.15 of 2 cores busy). So a batch's entries go to shards by a
stable hash of their customer, each shard with its own queue and
transactions, which overlap. A non-atomic batch is split into one part per
shard, each keeping its entries' order; entries of different customers are
independent (idempotency keys, books and events are per customer), so each
entry is decided exactly as before. An atomic batch must be one
transaction: it goes whole to the shard of its first entry's customer.

Shards and the single queue may wait on each other's locks, never deadlock:
every transaction locks its customers' heads, then their wallets, each in
one sorted pass.
"""

from __future__ import annotations

import asyncio
import zlib
from collections.abc import Callable, Sequence

from server.domain.decide import Outcome, Request
from server.domain.entry_batches import BatchApplied, EntryBatch
from server.domain.errors import WalletError
from server.domain.model import Applied, EntryRequest
from server.ledger.coalescer import Coalescer
from server.ledger.transaction import WriteTransaction
from server.observability.batches import BatchObserver


def shard_of(customer_id: str, shards: int) -> int:
    """The customer's batch shard: the same in every process and every run (CRC-32, not Python's salted hash)."""
    return zlib.crc32(customer_id.encode()) % shards


def _split(entries: Sequence[EntryRequest], shards: int) -> dict[int, list[int]]:
    """The positions of the entries by shard, each list in the batch's order."""
    positions: dict[int, list[int]] = {}
    for index, entry in enumerate(entries):
        positions.setdefault(shard_of(entry.customer_id, shards), []).append(index)
    return positions


class WriteShards:
    """A coalescer for single requests and `shards` for batches of entries, each running `transaction`."""

    def __init__(
        self,
        transaction: WriteTransaction,
        *,
        shards: int,
        batch_max: int,
        concurrency: int,
        queue_timeout_s: float,
        linger_s: float,
        observer: BatchObserver | None,
        database_reachable: Callable[[], bool] = lambda: True,
    ) -> None:
        assert shards >= 1

        def coalescer() -> Coalescer[Request, Outcome]:
            return Coalescer(
                transaction.apply,
                name="write",
                batch_max=batch_max,
                concurrency=concurrency,
                queue_timeout_s=queue_timeout_s,
                linger_s=linger_s,
                observer=observer,
                database_reachable=database_reachable,
            )

        self._singles = coalescer()
        self._shards = [coalescer() for _ in range(shards)]

    @property
    def queued(self) -> int:
        """Write requests waiting for a transaction, in all queues."""
        return self._singles.queued + sum(shard.queued for shard in self._shards)

    async def submit(self, request: Request) -> Outcome:
        """Applies one single request (batches of entries go through `submit_entries`)."""
        return await self._singles.submit(request)

    async def submit_entries(self, batch: EntryBatch) -> list[Applied | WalletError]:
        """Each entry's outcome, in order; a non-atomic batch over several shards is applied in all of them at once."""
        positions = _split(batch.entries, len(self._shards)) if not batch.atomic else {}
        if len(positions) <= 1:
            shard = shard_of(batch.entries[0].customer_id, len(self._shards))
            outcome = await self._shards[shard].submit(batch)
            assert isinstance(outcome, BatchApplied)
            return outcome.results
        parts = [EntryBatch(tuple(batch.entries[i] for i in indexes), atomic=False) for indexes in positions.values()]
        outcomes = await asyncio.gather(
            *(self._shards[shard].submit(part) for shard, part in zip(positions, parts, strict=True)),
            return_exceptions=True,
        )
        failures = [outcome for outcome in outcomes if isinstance(outcome, BaseException)]
        if len(failures) == len(outcomes):
            # Nothing applied (the database is down, the server is stopping): the call fails as one.
            raise failures[0]
        results: list[Applied | WalletError | None] = [None] * len(batch.entries)
        for indexes, part in zip(positions.values(), outcomes, strict=True):
            if isinstance(part, WalletError):
                # Some shards applied theirs: the entries of a failed one carry its error each,
                # as a non-atomic batch reports any refusal, and are safe to retry with their keys.
                for index in indexes:
                    results[index] = part
                continue
            if isinstance(part, BaseException):
                raise part
            assert isinstance(part, BatchApplied)
            for index, result in zip(indexes, part.results, strict=True):
                results[index] = result
        assert all(result is not None for result in results)
        return results  # type: ignore[return-value]

    async def close(self) -> None:
        """Refuses new requests and waits for every shard's queued ones."""
        await asyncio.gather(self._singles.close(), *(shard.close() for shard in self._shards))
