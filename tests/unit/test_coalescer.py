"""The write coalescer: arrival order, batching under load, cancelled callers, poisoned batches."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime

import pytest

from server.domain.errors import DatabaseUnavailable, InsufficientFunds, ServerBusy, ShuttingDown, WalletError
from server.domain.model import Applied, Entry, EntryRequest, EntryType, Wallet
from server.ledger.coalescer import LINGER_AFTER, Coalescer

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def request(amount: int) -> EntryRequest:
    return EntryRequest("cus_1", "USD", EntryType.CREDIT, amount, "", "", {})


def applied(req: EntryRequest) -> Applied:
    entry = Entry(
        "le_x",
        req.customer_id,
        1,
        req.currency,
        req.entry_type,
        req.amount,
        0,
        req.amount,
        "",
        "",
        {},
        NOW,
        "",
    )
    return Applied(entry, Wallet(req.customer_id, req.currency, req.amount, NOW, NOW), False)


class RecordingLedger:
    """Applies batches after a short pause, recording each batch it saw."""

    def __init__(self, fail_amounts: set[int] | None = None) -> None:
        self.batches: list[list[int]] = []
        self.fail_amounts = fail_amounts or set()

    async def apply(self, requests: Sequence[EntryRequest]) -> list[Applied | WalletError]:
        self.batches.append([r.amount for r in requests])
        await asyncio.sleep(0.01)
        if len(requests) > 1 and self.fail_amounts & {r.amount for r in requests}:
            raise RuntimeError("poisoned batch")
        return [
            InsufficientFunds(balance=0, amount=r.amount, currency="USD")
            if r.amount in self.fail_amounts
            else applied(r)
            for r in requests
        ]


async def test_concurrent_requests_share_batches_and_keep_arrival_order() -> None:
    ledger = RecordingLedger()
    coalescer = Coalescer(ledger.apply, name="test", batch_max=50, concurrency=1, queue_timeout_s=5)
    results = await asyncio.gather(*(coalescer.submit(request(i)) for i in range(1, 101)))
    assert [r.entry.amount for r in results] == list(range(1, 101))
    assert [amount for batch in ledger.batches for amount in batch] == list(range(1, 101))
    assert len(ledger.batches) < 100
    assert max(len(batch) for batch in ledger.batches) <= 50


async def test_each_request_keeps_its_own_refusal() -> None:
    coalescer = Coalescer(RecordingLedger({3}).apply, name="test", batch_max=10, concurrency=1, queue_timeout_s=5)
    results = await asyncio.gather(*(coalescer.submit(request(i)) for i in (1, 3, 5)), return_exceptions=True)
    assert isinstance(results[1], InsufficientFunds)
    assert [r.entry.amount for r in (results[0], results[2])] == [1, 5]  # type: ignore[union-attr]


async def test_a_batch_that_fails_as_a_whole_is_retried_one_request_at_a_time() -> None:
    ledger = RecordingLedger({4})
    coalescer = Coalescer(ledger.apply, name="test", batch_max=10, concurrency=1, queue_timeout_s=5)
    results = await asyncio.gather(*(coalescer.submit(request(i)) for i in (2, 4, 6, 8)), return_exceptions=True)
    assert isinstance(results[1], InsufficientFunds)
    assert [r.entry.amount for i, r in enumerate(results) if i != 1] == [2, 6, 8]  # type: ignore[union-attr]


async def test_a_database_outage_fails_the_whole_batch_without_retrying_it() -> None:
    calls = 0

    async def unavailable(requests: Sequence[EntryRequest]) -> list[Applied | WalletError]:
        nonlocal calls
        calls += 1
        raise DatabaseUnavailable("down")

    coalescer = Coalescer(unavailable, name="test", batch_max=10, concurrency=1, queue_timeout_s=5)
    results = await asyncio.gather(*(coalescer.submit(request(i)) for i in range(5)), return_exceptions=True)
    assert all(isinstance(r, DatabaseUnavailable) for r in results)
    assert calls <= 2


async def test_a_request_cancelled_while_queued_is_never_applied() -> None:
    ledger = RecordingLedger()
    coalescer = Coalescer(ledger.apply, name="test", batch_max=1, concurrency=1, queue_timeout_s=5)
    first = asyncio.create_task(coalescer.submit(request(1)))
    second = asyncio.create_task(coalescer.submit(request(2)))
    await asyncio.sleep(0)
    second.cancel()
    await first
    await coalescer.close()  # Waits until the runner has gone through the whole queue.
    assert [amount for batch in ledger.batches for amount in batch] == [1]


async def test_a_closed_coalescer_refuses_new_requests_after_finishing_queued_ones() -> None:
    ledger = RecordingLedger()
    coalescer = Coalescer(ledger.apply, name="test", batch_max=5, concurrency=2, queue_timeout_s=5)
    pending = [asyncio.create_task(coalescer.submit(request(i))) for i in range(1, 8)]
    await asyncio.sleep(0)
    await coalescer.close()
    assert [t.result().entry.amount for t in pending] == list(range(1, 8))
    with pytest.raises(ShuttingDown):
        await coalescer.submit(request(9))


async def test_a_request_left_waiting_behind_a_stuck_batch_fails_fast_with_server_busy() -> None:
    taken, release = asyncio.Event(), asyncio.Event()

    async def stuck(requests: Sequence[EntryRequest]) -> list[Applied | WalletError]:
        taken.set()
        await release.wait()
        return [applied(r) for r in requests]

    coalescer = Coalescer(stuck, name="test", batch_max=10, concurrency=1, queue_timeout_s=0.05)
    first = asyncio.create_task(coalescer.submit(request(1)))
    await taken.wait()  # The runner has taken the first request into its batch.
    started = asyncio.get_running_loop().time()
    with pytest.raises(ServerBusy):
        await coalescer.submit(request(2))
    # Refused after the queue timeout, while the batch ahead of it is still stuck.
    assert asyncio.get_running_loop().time() - started >= 0.9 * 0.05
    assert not first.done()
    release.set()
    assert (await first).entry.amount == 1  # A taken request rides its batch out.


async def test_after_a_large_batch_the_runner_lingers_and_gathers_the_callers_next_requests_into_one() -> None:
    ledger = RecordingLedger()
    gate = asyncio.Event()

    async def held_apply(requests: Sequence[EntryRequest]) -> list[Applied | WalletError]:
        if not ledger.batches:
            await gate.wait()  # the first batch stays in its transaction until the test lets it go
        return await ledger.apply(requests)

    coalescer = Coalescer(held_apply, name="test", batch_max=50, concurrency=1, queue_timeout_s=30, linger_s=1.0)
    # A batch of LINGER_AFTER requests (the sign of a saturated server), and one more waiting behind it.
    first = [asyncio.ensure_future(coalescer.submit(request(i))) for i in range(1, LINGER_AFTER + 1)]
    await asyncio.sleep(0)
    waiting = asyncio.ensure_future(coalescer.submit(request(100)))
    gate.set()
    await asyncio.gather(*first)
    # The first batch's callers come back with their next requests while the runner lingers.
    again = [asyncio.ensure_future(coalescer.submit(request(101 + i))) for i in range(2)]
    await asyncio.gather(waiting, *again)
    assert ledger.batches == [list(range(1, LINGER_AFTER + 1)), [100, 101, 102]]


async def test_after_a_small_batch_the_next_request_does_not_wait_for_the_linger() -> None:
    ledger = RecordingLedger()
    coalescer = Coalescer(ledger.apply, name="test", batch_max=50, concurrency=1, queue_timeout_s=30, linger_s=60.0)
    first = asyncio.ensure_future(coalescer.submit(request(1)))
    await asyncio.sleep(0)  # the runner takes the first request alone
    second = asyncio.ensure_future(coalescer.submit(request(2)))
    # A linger of 60 s would outlast this bound many times over.
    await asyncio.wait_for(asyncio.gather(first, second), timeout=10)
    assert ledger.batches == [[1], [2]]


async def test_a_request_submitted_as_the_last_runner_finishes_is_still_applied() -> None:
    # The caller of the first request resumes before the finished runner's task is
    # forgotten: a request it submits at once must start a runner of its own, not
    # wait in the queue until it times out (found by the contract's state machine).
    ledger = RecordingLedger()
    coalescer: Coalescer[EntryRequest, Applied] = Coalescer(
        ledger.apply, name="write", batch_max=10, concurrency=1, queue_timeout_s=1.0
    )
    await coalescer.submit(request(1))
    # Awaited directly (no task in between): submit runs at once, before the runner is forgotten.
    # Stuck in the queue, it would fail ServerBusy after the queue timeout.
    second = await coalescer.submit(request(2))
    assert second.entry.amount == 2
    assert ledger.batches == [[1], [2]]
