"""watch_events and set_low_balance_threshold, blocking and asyncio, against the real server and PostgreSQL.

Watches start from the oldest retained event of a customer no other test
touches, so they see every change without waiting for the moment a watch goes
live. A watch is read from a background task (asyncio) or thread (blocking)
into a queue, and each wait is for the events a step must produce. Stream
cuts come from the FaultyWalletProxy; the restart is of a second server on
the same port and database.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from typing import Any

import pytest

from server.app import create_server
from server.config import Settings, with_thresholds
from tests.clients.conftest import FAST_RETRY
from tests.clients.faults import Faults
from wallet_client import (
    AsyncWalletClient,
    EventType,
    InvalidRequest,
    RetryPolicy,
    Wallet,
    WalletClient,
    WalletEvent,
)

# A safety bound only: each wait ends as soon as what it waits for arrives.
PATIENCE_S = 30.0
# Patient enough to ride out a server restart (the channel reconnects with its own backoff, up to 5 s).
RESTART_RETRY = RetryPolicy(max_attempts=100, initial_backoff_s=0.05, max_backoff_s=0.2, total_timeout_s=30.0)

Watcher = Callable[..., "Watch"]


class Watch:
    """The first `count` events of a watch, read in the background into a queue as they arrive."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[WalletEvent | BaseException] = asyncio.Queue()
        self.finished: asyncio.Future[None] | None = None

    async def take(self, count: int) -> list[WalletEvent]:
        taken = []
        for _ in range(count):
            item = await asyncio.wait_for(self.queue.get(), PATIENCE_S)
            if isinstance(item, BaseException):
                raise item
            taken.append(item)
        return taken


def async_watch(target: str, count: int, retry: RetryPolicy = FAST_RETRY, **arguments: Any) -> Watch:
    watch = Watch()

    async def read() -> None:
        try:
            async with AsyncWalletClient(target, retry=retry) as client:
                events, received = client.watch_events(**arguments), 0
                async for event in events:
                    watch.queue.put_nowait(event)
                    received += 1
                    if received == count:
                        break
        except Exception as error:
            watch.queue.put_nowait(error)

    watch.finished = asyncio.ensure_future(read())
    return watch


def blocking_watch(target: str, count: int, retry: RetryPolicy = FAST_RETRY, **arguments: Any) -> Watch:
    watch = Watch()
    loop = asyncio.get_running_loop()

    def read() -> None:
        try:
            with WalletClient(target, retry=retry) as client:
                events = client.watch_events(**arguments)
                for event in itertools.islice(events, count):
                    loop.call_soon_threadsafe(watch.queue.put_nowait, event)
        except Exception as error:
            loop.call_soon_threadsafe(watch.queue.put_nowait, error)

    watch.finished = asyncio.ensure_future(asyncio.to_thread(read))
    return watch


@pytest.fixture(params=["asyncio", "blocking"])
async def watcher(request: pytest.FixtureRequest) -> AsyncIterator[Watcher]:
    """Starts watches with the asyncio or the blocking client; waits at the end until each has stopped."""
    started: list[Watch] = []
    kind = async_watch if request.param == "asyncio" else blocking_watch

    def start(*args: Any, **kwargs: Any) -> Watch:
        watch = kind(*args, **kwargs)
        started.append(watch)
        return watch

    yield start
    for watch in started:
        assert watch.finished is not None
        await asyncio.wait_for(watch.finished, PATIENCE_S)


def kinds(events: list[WalletEvent]) -> list[EventType]:
    return [e.event_type for e in events]


async def test_a_watch_yields_typed_events_with_their_entry_hold_wallet_and_threshold(
    target: str, aclient: AsyncWalletClient, customer_id: str, watcher: Watcher
) -> None:
    await aclient.set_low_balance_threshold(customer_id, "USD", 500)  # a wallet at 0 under 500: low at once
    credit = await aclient.credit(customer_id, 1_000, "USD", reason="top-up")  # 1000: recovered
    hold = await aclient.hold(customer_id, 700, "USD")  # available 300: low
    watch = watcher(target, 5, customer_id=customer_id, from_oldest=True)
    events = await watch.take(5)
    assert kinds(events) == [
        EventType.BALANCE_LOW,
        EventType.ENTRY_CREATED,
        EventType.BALANCE_RECOVERED,
        EventType.HOLD_CREATED,
        EventType.BALANCE_LOW,
    ]
    low, entry, recovered, held, low_again = events
    assert (low.threshold, low.entry, low.hold, low.wallet.available_balance) == (500, None, None, 0)
    assert entry.entry == credit.entry and entry.hold is None and entry.threshold == 0
    assert recovered.threshold == 500 and recovered.wallet.available_balance == 1_000
    assert held.hold == hold.hold and held.wallet == hold.wallet
    assert low_again.wallet.available_balance == 300 and low_again.wallet.low_balance_threshold == 500
    assert {(e.customer_id, e.currency) for e in events} == {(customer_id, "USD")}
    assert all(e.occurred_at.tzinfo is not None for e in events)
    assert len({e.cursor for e in events}) == 5


async def test_a_watch_keeps_its_filters_and_starts_after_a_cursor(
    target: str, aclient: AsyncWalletClient, customer_id: str, watcher: Watcher
) -> None:
    for amount in (1, 2, 3):
        await aclient.credit(customer_id, amount, "USD")
    await aclient.hold(customer_id, 1, "USD")
    first = await watcher(target, 4, customer_id=customer_id, from_oldest=True).take(4)
    entries_only = watcher(target, 2, customer_id=customer_id, event_types=["entry_created"],
                           start_after_cursor=first[0].cursor)  # fmt: skip
    await aclient.credit(customer_id, 4, "USD")
    resumed = await entries_only.take(2)
    assert [e.entry.amount for e in resumed if e.entry] == [2, 3]
    assert kinds(resumed) == [EventType.ENTRY_CREATED] * 2


async def test_both_clients_set_a_threshold_without_writing_the_wallet(
    target: str, aclient: AsyncWalletClient, customer_id: str
) -> None:
    wallet = await aclient.set_low_balance_threshold(customer_id, "USD", 2_500)
    assert isinstance(wallet, Wallet)
    assert (wallet.low_balance_threshold, wallet.version, wallet.balance) == (2_500, 0, 0)

    def set_inr() -> Wallet:
        with WalletClient(target, retry=FAST_RETRY) as client:
            return client.set_low_balance_threshold(customer_id, "INR", 10_000)

    assert (await asyncio.to_thread(set_inr)).low_balance_threshold == 10_000
    balances = await aclient.get_balances(customer_id)
    assert {w.currency: w.low_balance_threshold for w in balances} == {"INR": 10_000, "USD": 2_500}
    with pytest.raises(InvalidRequest) as raised:
        await aclient.set_low_balance_threshold(customer_id, "USD", -1)
    assert [v.field for v in raised.value.violations] == ["threshold"]


async def test_a_watch_resumes_after_each_stream_cut_with_no_event_lost_or_repeated(
    proxy: tuple[str, Faults], aclient: AsyncWalletClient, customer_id: str, watcher: Watcher
) -> None:
    address, faults = proxy
    for amount in (1, 2, 3):
        await aclient.credit(customer_id, amount, "USD")
    # Each stream passes its live message and one batch; the next batch is lost in the cut and must be sent again.
    faults.cut_streams_after = [2, 2, 2]
    watch = watcher(address, 9, customer_id=customer_id, from_oldest=True)
    received = await watch.take(3)
    for amount in range(4, 10):
        # One credit at a time: each reaches the watch as a batch of its own, so every cut happens.
        await aclient.credit(customer_id, amount, "USD")
        received += await watch.take(1)
    assert faults.cut_streams_after == [] and faults.calls.count("WatchEvents") == 4
    ledger = [e async for e in aclient.iter_entries(customer_id)]
    assert [e.entry.id for e in received if e.entry] == [e.id for e in ledger]
    assert len({e.cursor for e in received}) == 9


async def test_a_watch_rides_out_a_restart_of_the_server(
    settings: Settings, database_url: str, aclient: AsyncWalletClient, customer_id: str, watcher: Watcher
) -> None:
    first, port = await create_server(settings, database_url)
    await first.start()
    address = f"127.0.0.1:{port}"
    await aclient.credit(customer_id, 1, "USD")
    watch = watcher(address, 3, retry=RESTART_RETRY, customer_id=customer_id, from_oldest=True)
    assert [e.entry.amount for e in await watch.take(1) if e.entry] == [1]
    await first.stop(0)
    await aclient.credit(customer_id, 2, "USD")  # while no server of the watch runs
    second, _ = await create_server(replace(settings, listen_addr=address), database_url)
    await second.start()
    try:
        await aclient.credit(customer_id, 3, "USD")
        assert [e.entry.amount for e in await watch.take(2) if e.entry] == [2, 3]
    finally:
        await second.stop(0)


async def test_a_cursor_the_service_never_issued_is_refused_when_iteration_starts(
    aclient: AsyncWalletClient,
) -> None:
    with pytest.raises(InvalidRequest) as raised:
        await anext(aclient.watch_events(start_after_cursor="ev_999999999999999"))
    assert [v.field for v in raised.value.violations] == ["start_after_cursor"]


async def test_under_a_default_threshold_a_wallet_never_written_is_low_so_its_first_credit_above_recovers(
    settings: Settings, database_url: str, customer_id: str
) -> None:
    defaults = replace(settings, currencies=with_thresholds(settings.currencies, "USD:500"))
    server, port = await create_server(defaults, database_url)
    await server.start()
    try:
        address = f"127.0.0.1:{port}"
        async with AsyncWalletClient(address, retry=FAST_RETRY) as client:
            assert (await client.get_balances(customer_id))["USD"].low_balance_threshold == 500
            await client.credit(customer_id, 300, "USD")  # 0 -> 300: low before, low after
            await client.credit(customer_id, 300, "USD")  # 600: recovered
            watch = async_watch(address, 3, customer_id=customer_id, from_oldest=True)
            events = await watch.take(3)
            assert watch.finished is not None
            await asyncio.wait_for(watch.finished, PATIENCE_S)
        assert kinds(events) == [EventType.ENTRY_CREATED, EventType.ENTRY_CREATED, EventType.BALANCE_RECOVERED]
        assert (events[2].threshold, events[2].wallet.available_balance) == (500, 600)
        async with AsyncWalletClient(address, retry=FAST_RETRY) as client:
            # A threshold set to 0 is the wallet's own: it switches alerts off despite the default.
            assert (await client.set_low_balance_threshold(customer_id, "USD", 0)).low_balance_threshold == 0
            assert (await client.get_balances(customer_id))["USD"].low_balance_threshold == 0
    finally:
        await server.stop(0)
