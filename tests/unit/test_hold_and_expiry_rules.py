"""Holds and expiring credits in the decision core, with no database: the balance model's rules."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

from server.domain.book import Book
from server.domain.decide import BatchState, Request, decide_batch
from server.domain.errors import (
    CaptureExceedsHold,
    HoldNotActive,
    HoldNotFound,
    IdempotencyKeyReused,
    InsufficientFunds,
)
from server.domain.holds import CaptureRequest, HoldOutcome, HoldRequest, HoldStatus, ReleaseRequest, SettleRequest
from server.domain.model import Applied, Entry, EntryRequest, EntryType, Head, Wallet

T0 = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)


class Wallets:
    """One customer's books carried from batch to batch, as the database would carry them."""

    def __init__(self) -> None:
        self.book = Book(Head("cus_a", 0, None), {}, {}, {})
        self.history: list[Entry] = []
        self._ids = itertools.count(1)

    def run(self, at: datetime, *requests: Request) -> list[object]:
        # Like the store, a batch loads only lots with money left.
        self.book.lots = {s: lot for s, lot in self.book.lots.items() if lot.remaining > 0}
        decision = decide_batch(list(requests), BatchState(at, {"cus_a": self.book}), lambda: f"le_{next(self._ids)}")
        self.history.extend(decision.entries)
        return list(decision.outcomes)

    def one(self, at: datetime, request: Request) -> object:
        return self.run(at, request)[0]

    def wallet(self) -> Wallet:
        return self.book.wallets["USD"]

    def kinds(self) -> list[tuple[str, int]]:
        return [(e.entry_type.value, e.amount) for e in self.history]


def credit(amount: int, expire_time: datetime | None = None, key: str = "") -> EntryRequest:
    return EntryRequest("cus_a", "USD", EntryType.CREDIT, amount, "", key, {}, expire_time=expire_time)


def debit(amount: int, key: str = "") -> EntryRequest:
    return EntryRequest("cus_a", "USD", EntryType.DEBIT, amount, "", key, {})


def hold(amount: int, ttl: timedelta = 10 * MINUTE, key: str = "") -> HoldRequest:
    return HoldRequest("cus_a", "USD", amount, "job", key, {"job": "j1"}, ttl)


def capture(hold_id: str, amount: int = 0) -> CaptureRequest:
    return CaptureRequest("cus_a", hold_id, amount, "", {"cost": "real"})


def held(outcome: object) -> HoldOutcome:
    assert isinstance(outcome, HoldOutcome), outcome
    return outcome


def test_the_worked_example_expires_20_at_t_then_captures_30_and_expires_the_returned_50() -> None:
    w = Wallets()
    t = T0 + 60 * MINUTE
    w.one(T0, credit(100, expire_time=t))
    h = held(w.one(T0 + MINUTE, hold(80, ttl=120 * MINUTE)))
    w.run(t, SettleRequest("cus_a"))
    assert (w.wallet().balance, w.wallet().held_balance, w.wallet().available_balance) == (80, 80, 0)
    captured = held(w.one(t + MINUTE, capture(h.hold.id, 30)))
    assert captured.entry is not None and captured.entry.hold_id == h.hold.id
    assert w.kinds() == [("credit", 100), ("expiration", 20), ("debit", 30), ("expiration", 50)]
    assert w.wallet().balance == 0 and w.wallet().held_balance == 0
    assert [e.created_at for e in w.history] == [T0, t, t + MINUTE, t + MINUTE]


def test_six_holds_of_1000_on_5000_exactly_five_succeed() -> None:
    w = Wallets()
    w.one(T0, credit(5000))
    outcomes = w.run(T0 + MINUTE, *[hold(1000) for _ in range(6)])
    assert [type(o).__name__ for o in outcomes] == ["HoldOutcome"] * 5 + ["InsufficientFunds"]
    assert (w.wallet().held_balance, w.wallet().available_balance, w.wallet().version) == (5000, 0, 6)


def test_a_debit_spends_the_soonest_expiring_credit_first_and_never_expiring_money_last() -> None:
    w = Wallets()
    w.run(T0, credit(100), credit(50, expire_time=T0 + 20 * MINUTE), credit(30, expire_time=T0 + 10 * MINUTE))
    w.one(T0 + MINUTE, debit(60))  # 30 from the credit lapsing first, 30 from the next
    w.run(T0 + 30 * MINUTE, SettleRequest("cus_a"))
    assert w.kinds()[-1] == ("expiration", 20)
    assert w.wallet().balance == 100


def test_a_hold_that_reaches_its_expire_time_frees_its_money_and_counts_a_version() -> None:
    w = Wallets()
    w.one(T0, credit(100))
    h = held(w.one(T0, hold(70, ttl=5 * MINUTE)))
    w.run(T0 + 5 * MINUTE, SettleRequest("cus_a"))
    expired = w.book.holds[h.hold.id]
    assert expired.status is HoldStatus.EXPIRED and expired.closed_at == T0 + 5 * MINUTE
    assert (w.wallet().held_balance, w.wallet().version) == (0, 3)
    assert isinstance(w.one(T0 + 6 * MINUTE, capture(h.hold.id)), HoldNotActive)


def test_a_hold_expiring_after_its_credit_lapsed_expires_the_money_it_returns_at_its_own_expiry() -> None:
    w = Wallets()
    w.one(T0, credit(100, expire_time=T0 + 10 * MINUTE))
    w.one(T0, hold(60, ttl=20 * MINUTE))
    w.run(T0 + 30 * MINUTE, SettleRequest("cus_a"))
    assert w.kinds() == [("credit", 100), ("expiration", 40), ("expiration", 60)]
    assert [e.created_at for e in w.history][1:] == [T0 + 10 * MINUTE, T0 + 20 * MINUTE]


def test_a_release_returns_the_whole_amount_and_repeating_it_replays() -> None:
    w = Wallets()
    w.one(T0, credit(100))
    h = held(w.one(T0, hold(40)))
    released = held(w.one(T0 + MINUTE, ReleaseRequest("cus_a", h.hold.id)))
    assert released.hold.status is HoldStatus.RELEASED and released.wallet.available_balance == 100
    again = held(w.one(T0 + 2 * MINUTE, ReleaseRequest("cus_a", h.hold.id)))
    assert again.idempotent_replay and again.hold == released.hold
    assert isinstance(w.one(T0 + 3 * MINUTE, capture(h.hold.id)), HoldNotActive)


def test_a_capture_repeats_only_with_the_amount_it_captured_zero_standing_for_the_whole_hold() -> None:
    w = Wallets()
    w.one(T0, credit(1000))
    h = held(w.one(T0, hold(400)))
    first = held(w.one(T0, capture(h.hold.id, 150)))
    assert first.wallet.balance == 850 and first.wallet.held_balance == 0
    assert held(w.one(T0, capture(h.hold.id, 150))).idempotent_replay
    refused = w.one(T0, capture(h.hold.id, 0))
    assert isinstance(refused, HoldNotActive) and refused.metadata["status"] == "HOLD_STATUS_CAPTURED"


def test_a_capture_beyond_the_hold_is_refused_and_an_unknown_hold_is_not_found() -> None:
    w = Wallets()
    w.one(T0, credit(1000))
    h = held(w.one(T0, hold(400)))
    assert isinstance(w.one(T0, capture(h.hold.id, 401)), CaptureExceedsHold)
    assert isinstance(w.one(T0, capture("hd_missing")), HoldNotFound)


def test_a_debit_cannot_use_held_money() -> None:
    w = Wallets()
    w.one(T0, credit(100))
    w.one(T0, hold(80))
    refusal = w.one(T0, debit(21))
    assert isinstance(refusal, InsufficientFunds) and refusal.metadata["available_balance"] == "20"
    assert isinstance(w.one(T0, debit(20)), Applied)


def test_idempotency_keys_are_one_space_for_entries_and_holds() -> None:
    w = Wallets()
    w.one(T0, credit(100, key="k1"))
    h = held(w.one(T0, hold(10, key="k2")))
    assert held(w.one(T0, hold(10, key="k2"))).idempotent_replay
    reused = w.one(T0, hold(10, key="k1"))
    assert isinstance(reused, IdempotencyKeyReused) and "entry_id" in reused.metadata
    reused = w.one(T0, credit(10, key="k2"))
    assert isinstance(reused, IdempotencyKeyReused) and reused.metadata["hold_id"] == h.hold.id
    assert isinstance(w.one(T0, hold(10, ttl=MINUTE, key="k2")), IdempotencyKeyReused)


def test_money_held_does_not_expire_while_held_and_a_refused_debit_still_posts_what_fell_due() -> None:
    w = Wallets()
    w.one(T0, credit(100, expire_time=T0 + 10 * MINUTE))
    w.one(T0, hold(30, ttl=60 * MINUTE))
    assert isinstance(w.one(T0 + 11 * MINUTE, debit(1)), InsufficientFunds)
    assert w.kinds() == [("credit", 100), ("expiration", 70)]
    assert (w.wallet().balance, w.wallet().held_balance) == (30, 30)


def test_versions_count_entries_and_hold_creations_releases_and_expiries_but_a_capture_once() -> None:
    w = Wallets()
    w.one(T0, credit(100))  # 1
    a = held(w.one(T0, hold(10)))  # 2
    b = held(w.one(T0, hold(10)))  # 3
    w.one(T0, capture(a.hold.id))  # 4: its debit
    w.one(T0, ReleaseRequest("cus_a", b.hold.id))  # 5
    assert w.wallet().version == 5
