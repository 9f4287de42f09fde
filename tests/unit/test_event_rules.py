"""Events in the decision core, with no database: what each change emits, in what order, and threshold crossings."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

from server.domain.book import Book
from server.domain.decide import BatchState, Request, decide_batch
from server.domain.events import Event, EventType, ThresholdRequest, crossing
from server.domain.holds import CaptureRequest, HoldRequest, ReleaseRequest, SettleRequest
from server.domain.model import EntryRequest, EntryType, Head, Wallet

T0 = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)


class Customer:
    """One customer's book carried from batch to batch; collects every event the batches emit."""

    def __init__(self, defaults: dict[str, int] | None = None) -> None:
        self.book = Book(Head("cus_a", 0, None), {}, {}, {})
        self.defaults = defaults or {}
        self.events: list[Event] = []
        self._ids = itertools.count(1)

    def run(self, at: datetime, *requests: Request) -> list[object]:
        self.book.lots = {s: lot for s, lot in self.book.lots.items() if lot.remaining > 0}
        state = BatchState(at, {"cus_a": self.book}, self.defaults)
        decision = decide_batch(list(requests), state, lambda: f"le_{next(self._ids)}")
        self.events.extend(decision.events)
        return list(decision.outcomes)

    def kinds(self) -> list[EventType]:
        return [e.event_type for e in self.events]


def credit(amount: int, expire_time: datetime | None = None, key: str = "") -> EntryRequest:
    return EntryRequest("cus_a", "USD", EntryType.CREDIT, amount, "", key, {}, expire_time=expire_time)


def debit(amount: int) -> EntryRequest:
    return EntryRequest("cus_a", "USD", EntryType.DEBIT, amount, "", "", {})


def hold(amount: int, ttl: timedelta = 10 * MINUTE) -> HoldRequest:
    return HoldRequest("cus_a", "USD", amount, "job", "", {}, ttl)


def threshold(amount: int) -> ThresholdRequest:
    return ThresholdRequest("cus_a", "USD", amount)


def test_each_entry_and_hold_change_emits_one_event_numbered_in_order() -> None:
    c = Customer()
    c.run(T0, credit(100))
    (created,) = c.run(T0, hold(40))
    hold_id = created.hold.id  # type: ignore[attr-defined]
    c.run(T0, ReleaseRequest("cus_a", hold_id))
    assert c.kinds() == [EventType.ENTRY_CREATED, EventType.HOLD_CREATED, EventType.HOLD_RELEASED]
    assert [e.seq for e in c.events] == [1, 2, 3]
    assert c.book.head.last_event_seq == 3
    assert [e.wallet.held_balance for e in c.events] == [0, 40, 0]


def test_a_capture_emits_its_debit_then_the_capture_then_the_expiration_it_causes() -> None:
    c = Customer()
    c.run(T0, credit(100, expire_time=T0 + MINUTE))
    (created,) = c.run(T0, hold(80))
    c.run(T0 + MINUTE, SettleRequest("cus_a"))  # 20 expires at T
    c.run(T0 + 2 * MINUTE, CaptureRequest("cus_a", created.hold.id, 30, "", {}))  # type: ignore[attr-defined]
    assert c.kinds() == [
        EventType.ENTRY_CREATED,
        EventType.HOLD_CREATED,
        EventType.ENTRY_CREATED,  # the expiration of 20
        EventType.ENTRY_CREATED,  # the capture's debit of 30
        EventType.HOLD_CAPTURED,
        EventType.ENTRY_CREATED,  # the expiration of the 50 the capture returned
    ]
    assert [e.entry.amount for e in c.events if e.entry is not None] == [100, 20, 30, 50]
    captured = c.events[4]
    assert captured.hold is not None and captured.hold.capture_entry_id == c.events[3].entry.id  # type: ignore[union-attr]
    # Every event of one change shows the wallet as the whole change left it.
    assert {e.wallet.balance for e in c.events[3:]} == {0}


def test_an_expired_hold_emits_hold_expired_at_its_expire_time() -> None:
    c = Customer()
    c.run(T0, credit(100))
    c.run(T0, hold(30, ttl=MINUTE))
    c.run(T0 + 2 * MINUTE, debit(1))
    assert c.kinds() == [
        EventType.ENTRY_CREATED,
        EventType.HOLD_CREATED,
        EventType.HOLD_EXPIRED,
        EventType.ENTRY_CREATED,
    ]
    assert c.events[2].occurred_at == T0 + MINUTE


def test_refusals_and_replays_emit_nothing() -> None:
    c = Customer()
    c.run(T0, credit(10, key="k"))
    c.run(T0, credit(10, key="k"), debit(11), hold(11))
    assert c.kinds() == [EventType.ENTRY_CREATED]


def test_crossing_the_threshold_emits_low_then_recovered_once_each_and_last_in_its_change() -> None:
    c = Customer()
    c.run(T0, credit(1_000), threshold(500))
    c.run(T0, debit(400), debit(200), debit(100))  # 600, then 400 (low), then 300 (still low)
    c.run(T0, hold(250))  # available 50: still low
    c.run(T0, credit(600))  # available 650: recovered
    kinds = c.kinds()
    assert kinds.count(EventType.BALANCE_LOW) == 1 and kinds.count(EventType.BALANCE_RECOVERED) == 1
    low = kinds.index(EventType.BALANCE_LOW)
    assert kinds[low - 1] is EventType.ENTRY_CREATED and c.events[low - 1].entry.amount == 200  # type: ignore[union-attr]
    assert c.events[low].wallet.available_balance == 400 and c.events[low].threshold == 500
    assert kinds[-1] is EventType.BALANCE_RECOVERED and c.events[-1].wallet.available_balance == 650


def test_setting_a_threshold_emits_a_crossing_at_once_but_changes_no_version() -> None:
    c = Customer()
    c.run(T0, credit(100))
    (raised,) = c.run(T0, threshold(500))
    (lowered,) = c.run(T0, threshold(0))
    assert c.kinds() == [EventType.ENTRY_CREATED, EventType.BALANCE_LOW, EventType.BALANCE_RECOVERED]
    assert raised.wallet.version == lowered.wallet.version == 1  # type: ignore[attr-defined]
    assert [e.threshold for e in c.events[1:]] == [500, 500]


def test_a_configured_default_applies_until_a_wallet_sets_its_own() -> None:
    c = Customer(defaults={"USD": 100})
    c.run(T0, credit(50))  # 0 -> 50: low under the default from the start, so no crossing
    c.run(T0, credit(60))  # 110: recovered
    c.run(T0, threshold(200))  # low again under its own threshold
    assert c.kinds()[1:] == [EventType.ENTRY_CREATED, EventType.BALANCE_RECOVERED, EventType.BALANCE_LOW]


def test_crossing_compares_the_available_balance_with_the_threshold_in_force() -> None:
    wallet = Wallet("cus_a", "USD", 100, T0, T0, 0, 1, 100)
    assert crossing(wallet, wallet._replace(balance=99), {}) is EventType.BALANCE_LOW
    assert crossing(wallet._replace(held_balance=1), wallet, {}) is EventType.BALANCE_RECOVERED
    assert (
        crossing(
            wallet._replace(low_balance_threshold=None), wallet._replace(balance=5, low_balance_threshold=None), {}
        )
        is None
    )
    assert (
        crossing(
            wallet._replace(low_balance_threshold=None),
            wallet._replace(balance=5, low_balance_threshold=None),
            {"USD": 10},
        )
        is EventType.BALANCE_LOW
    )
