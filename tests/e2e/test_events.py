"""Balance events end to end: WatchEvents and SetLowBalanceThreshold against the real server and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import grpc
import pytest
from google.protobuf.duration_pb2 import Duration

from server.ledger import watch as watch_module
from tests.e2e.helpers import DEBIT, entry_request, error_info, field_violations
from wallet.v1 import wallet_pb2, wallet_pb2_grpc

Stub = wallet_pb2_grpc.WalletServiceStub
E = wallet_pb2
# A safety bound only: every wait below ends as soon as the events it waits for arrive.
_PATIENCE_S = 30.0


class Watch:
    """An open WatchEvents stream whose events are read on demand."""

    def __init__(self, stub: Stub, request: wallet_pb2.WatchEventsRequest) -> None:
        self.call = stub.WatchEvents(request)
        self._pending: list[wallet_pb2.WalletEvent] = []

    async def live(self) -> None:
        """Waits for the first message, which says the watch is live."""
        first = await asyncio.wait_for(self.call.read(), _PATIENCE_S)
        assert first is not grpc.aio.EOF
        self._pending.extend(first.events)

    async def take(self, count: int) -> list[wallet_pb2.WalletEvent]:
        async def fill() -> None:
            while len(self._pending) < count:
                message = await self.call.read()
                assert message is not grpc.aio.EOF, "the stream ended"
                self._pending.extend(message.events)

        await asyncio.wait_for(fill(), _PATIENCE_S)
        taken, self._pending = self._pending[:count], self._pending[count:]
        return taken


OpenWatch = Callable[..., Awaitable[Watch]]


@pytest.fixture
async def watch_of(stub: Stub) -> AsyncIterator[OpenWatch]:
    opened: list[Watch] = []

    async def open_watch(**fields: object) -> Watch:
        watch = Watch(stub, wallet_pb2.WatchEventsRequest(**fields))  # type: ignore[arg-type]
        opened.append(watch)
        await watch.live()
        return watch

    yield open_watch
    for watch in opened:
        watch.call.cancel()


def kinds(events: list[wallet_pb2.WalletEvent]) -> list[int]:
    return [e.event_type for e in events]


async def test_a_watch_of_one_customer_sees_each_change_in_order_with_its_entry_hold_and_wallet(
    stub: Stub, customer_id: str, watch_of: OpenWatch
) -> None:
    watch = await watch_of(customer_id=customer_id)
    credit = await stub.CreateLedgerEntry(entry_request(customer_id, 1_000))
    hold = await stub.CreateHold(
        wallet_pb2.CreateHoldRequest(customer_id=customer_id, currency="USD", amount=400, ttl=Duration(seconds=600))
    )
    capture = await stub.CaptureHold(
        wallet_pb2.CaptureHoldRequest(customer_id=customer_id, hold_id=hold.hold.id, amount=150)
    )
    events = await watch.take(4)
    assert kinds(events) == [E.EVENT_TYPE_ENTRY_CREATED, E.EVENT_TYPE_HOLD_CREATED, E.EVENT_TYPE_ENTRY_CREATED,
                             E.EVENT_TYPE_HOLD_CAPTURED]  # fmt: skip
    assert events[0].entry == credit.entry and events[0].wallet.balance == 1_000
    assert events[1].hold.status == E.HOLD_STATUS_ACTIVE and events[1].wallet.held_balance == 400
    assert events[2].entry == capture.entry
    assert events[3].hold == capture.hold and events[3].wallet == capture.wallet
    moments = [e.occurred_at.ToDatetime() for e in events]
    assert moments == sorted(moments)
    assert len({e.cursor for e in events}) == 4


async def test_a_refused_or_replayed_request_has_no_event(stub: Stub, customer_id: str, watch_of: OpenWatch) -> None:
    watch = await watch_of(customer_id=customer_id)
    await stub.CreateLedgerEntry(entry_request(customer_id, 100, idempotency_key="k1"))
    await stub.CreateLedgerEntry(entry_request(customer_id, 100, idempotency_key="k1"))
    with pytest.raises(grpc.aio.AioRpcError):
        await stub.CreateLedgerEntry(entry_request(customer_id, 500, DEBIT))
    await stub.CreateLedgerEntry(entry_request(customer_id, 7, DEBIT))
    events = await watch.take(2)
    assert [e.entry.amount for e in events] == [100, 7]


async def test_resuming_after_a_cursor_gives_every_later_event_exactly_once(
    stub: Stub, customer_id: str, watch_of: OpenWatch
) -> None:
    watch = await watch_of(customer_id=customer_id)
    for amount in range(1, 7):
        await stub.CreateLedgerEntry(entry_request(customer_id, amount))
    first = await watch.take(6)
    resumed = await watch_of(customer_id=customer_id, start_after_cursor=first[2].cursor)
    assert [e.entry.amount for e in await resumed.take(3)] == [4, 5, 6]
    await stub.CreateLedgerEntry(entry_request(customer_id, 7))
    assert [e.entry.amount for e in await resumed.take(1)] == [7]


async def test_from_oldest_starts_with_the_oldest_retained_event_and_filters_by_type(
    stub: Stub, customer_id: str, watch_of: OpenWatch
) -> None:
    await stub.CreateLedgerEntry(entry_request(customer_id, 50))
    await stub.SetLowBalanceThreshold(
        wallet_pb2.SetLowBalanceThresholdRequest(customer_id=customer_id, currency="USD", threshold=100)
    )
    watch = await watch_of(customer_id=customer_id, from_oldest=True, event_types=[E.EVENT_TYPE_BALANCE_LOW])
    low = await watch.take(1)
    assert kinds(low) == [E.EVENT_TYPE_BALANCE_LOW] and low[0].threshold == 100


async def test_low_balance_and_recovery_are_each_emitted_once_per_crossing(
    stub: Stub, customer_id: str, watch_of: OpenWatch
) -> None:
    set_to = await stub.SetLowBalanceThreshold(
        wallet_pb2.SetLowBalanceThresholdRequest(customer_id=customer_id, currency="USD", threshold=500)
    )
    assert set_to.wallet.low_balance_threshold == 500 and set_to.wallet.version == 0
    watch = await watch_of(
        customer_id=customer_id, event_types=[E.EVENT_TYPE_BALANCE_LOW, E.EVENT_TYPE_BALANCE_RECOVERED]
    )
    await stub.CreateLedgerEntry(entry_request(customer_id, 1_000))  # 0 -> 1000: recovered
    await stub.CreateLedgerEntry(entry_request(customer_id, 100, DEBIT))  # 900: still fine
    await stub.CreateLedgerEntry(entry_request(customer_id, 600, DEBIT))  # 300: low
    await stub.CreateLedgerEntry(entry_request(customer_id, 100, DEBIT))  # 200: still low
    await stub.CreateHold(  # available 100: still low
        wallet_pb2.CreateHoldRequest(customer_id=customer_id, currency="USD", amount=100, ttl=Duration(seconds=60))
    )
    await stub.SetLowBalanceThreshold(  # threshold 0: recovered
        wallet_pb2.SetLowBalanceThresholdRequest(customer_id=customer_id, currency="USD", threshold=0)
    )
    events = await watch.take(3)
    assert kinds(events) == [E.EVENT_TYPE_BALANCE_RECOVERED, E.EVENT_TYPE_BALANCE_LOW, E.EVENT_TYPE_BALANCE_RECOVERED]
    assert [e.wallet.available_balance for e in events] == [1_000, 300, 100]
    assert [e.threshold for e in events] == [500, 500, 500]
    balances = await stub.GetBalances(wallet_pb2.GetBalancesRequest(customer_id=customer_id))
    assert [w.low_balance_threshold for w in balances.wallets if w.currency == "USD"] == [0]


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"start_after_cursor": "ev_1", "from_oldest": True}, "from_oldest"),
        ({"start_after_cursor": "nonsense"}, "start_after_cursor"),
        ({"start_after_cursor": "ev_999999999999"}, "start_after_cursor"),
        ({"event_types": [99]}, "event_types"),
        ({"customer_id": "has space"}, "customer_id"),
    ],
)
async def test_a_bad_watch_request_is_invalid_argument_naming_the_field(
    stub: Stub, fields: dict[str, object], field: str
) -> None:
    call = stub.WatchEvents(wallet_pb2.WatchEventsRequest(**fields))  # type: ignore[arg-type]
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await call.read()
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field_violations(raised.value) == [field]
    assert error_info(raised.value).reason == "INVALID_ARGUMENT"


@pytest.mark.parametrize(
    ("fields", "field"),
    [({"threshold": -1}, "threshold"), ({"currency": "XXX"}, "currency"), ({"currency": ""}, "currency")],
)
async def test_a_bad_threshold_request_is_invalid_argument_naming_the_field(
    stub: Stub, customer_id: str, fields: dict[str, object], field: str
) -> None:
    request = {"customer_id": customer_id, "currency": "USD", "threshold": 10, **fields}
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await stub.SetLowBalanceThreshold(wallet_pb2.SetLowBalanceThresholdRequest(**request))  # type: ignore[arg-type]
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field_violations(raised.value) == [field]


async def test_every_message_carries_a_cursor_that_also_covers_what_the_filters_left_out(
    stub: Stub, customer_id: str, watch_of: OpenWatch, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(watch_module, "PROGRESS_S", 0.0)  # report progress at every placement
    narrow = stub.WatchEvents(
        wallet_pb2.WatchEventsRequest(customer_id=customer_id, event_types=[E.EVENT_TYPE_BALANCE_LOW])
    )
    live = await asyncio.wait_for(narrow.read(), _PATIENCE_S)
    assert live.cursor.startswith("ev_") and not live.events
    for amount in (1, 2, 3):
        await stub.CreateLedgerEntry(entry_request(customer_id, amount))
    everything = await watch_of(customer_id=customer_id, start_after_cursor=live.cursor)
    written = await everything.take(3)

    # The narrow watch matched nothing, yet its cursor moves up to (or past) the last write's event.
    def position(cursor: str) -> int:
        return int(cursor.removeprefix("ev_"))

    cursor = live.cursor
    while position(cursor) < position(written[-1].cursor):
        message = await asyncio.wait_for(narrow.read(), _PATIENCE_S)
        assert not message.events
        cursor = message.cursor
    narrow.cancel()
    await stub.CreateLedgerEntry(entry_request(customer_id, 4))
    resumed = await watch_of(customer_id=customer_id, start_after_cursor=cursor)
    assert [e.entry.amount for e in await resumed.take(1)] == [4]
