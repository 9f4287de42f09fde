"""The decision core, with no database: every rule of the write path as a pure function over named state."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from server.domain.book import Book, Draft
from server.domain.decide import BatchState, Outcome, decide_batch
from server.domain.decide import decide as decide_in_draft
from server.domain.errors import BalanceOverflow, IdempotencyKeyReused, InsufficientFunds
from server.domain.limits import BALANCE_MAX
from server.domain.model import Applied, Entry, EntryRequest, EntryType, Head, Wallet

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
EARLIER = NOW - timedelta(days=1)


def credit(amount: int, key: str = "", customer_id: str = "cus_a", currency: str = "USD") -> EntryRequest:
    return EntryRequest(customer_id, currency, EntryType.CREDIT, amount, "top-up", key, {})


def debit(amount: int, key: str = "", customer_id: str = "cus_a", currency: str = "USD") -> EntryRequest:
    return EntryRequest(customer_id, currency, EntryType.DEBIT, amount, "usage", key, {"model": "m1"})


def state(
    balances: dict[tuple[str, str], int] | None = None,
    heads: dict[str, int] | None = None,
    prior: list[Entry] | None = None,
    now: datetime = NOW,
    last_entry_at: datetime | None = EARLIER,
) -> BatchState:
    """A locked state: wallets with the given balances, heads at the given positions (0 when unnamed)."""
    balances = balances or {}
    customers = {c for c, _ in balances} | set(heads or {}) | {"cus_a", "cus_b"}
    books = {c: Book(Head(c, (heads or {}).get(c, 0), last_entry_at), {}, {}, {}) for c in customers}
    for (customer_id, currency), balance in balances.items():
        books[customer_id].wallets[currency] = Wallet(customer_id, currency, balance, EARLIER, EARLIER)
    for entry in prior or []:
        books[entry.customer_id].entries_by_key[entry.idempotency_key] = entry
    return BatchState(now=now, books=books)


def decide(request: EntryRequest, locked: BatchState, entry_id: str) -> Outcome:
    """One request decided alone against the locked state, its new entry (if any) named `entry_id`."""
    return decide_in_draft(request, Draft(locked.books[request.customer_id], locked.now, lambda: entry_id))


def ids() -> Callable[[], str]:
    counter = itertools.count(1)
    return lambda: f"le_{next(counter)}"


def applied(outcome: object) -> Applied:
    assert isinstance(outcome, Applied), outcome
    return outcome


def test_a_credit_makes_the_next_entry_of_the_customer_and_raises_the_balance() -> None:
    outcome = applied(decide(credit(500), state({("cus_a", "USD"): 100}, heads={"cus_a": 7}), "le_1"))
    assert (outcome.entry.seq, outcome.entry.before_balance, outcome.entry.after_balance) == (8, 100, 600)
    assert outcome.wallet.balance == 600 and outcome.wallet.updated_at == NOW
    assert not outcome.idempotent_replay


def test_deciding_changes_nothing_in_the_state() -> None:
    locked = state({("cus_a", "USD"): 100})
    book = locked.books["cus_a"]
    before = (book.head, dict(book.wallets), dict(book.entries_by_key))
    decide(debit(50, key="k"), locked, "le_1")
    assert (book.head, book.wallets, book.entries_by_key) == before


def test_a_first_entry_creates_the_wallet_at_its_own_time() -> None:
    outcome = applied(decide(credit(1), state(), "le_1"))
    assert outcome.wallet.created_at == NOW == outcome.entry.created_at


def test_a_debit_larger_than_the_balance_is_refused_with_the_balance_and_amount() -> None:
    refusal = decide(debit(101), state({("cus_a", "USD"): 100}), "le_1")
    assert isinstance(refusal, InsufficientFunds)
    assert (refusal.metadata["balance"], refusal.metadata["amount"], refusal.metadata["currency"]) == (
        "100",
        "101",
        "USD",
    )


def test_a_debit_of_a_wallet_never_written_is_refused() -> None:
    assert isinstance(decide(debit(1), state(), "le_1"), InsufficientFunds)


def test_a_credit_past_the_int64_maximum_is_refused_as_overflow() -> None:
    locked = state({("cus_a", "USD"): BALANCE_MAX - 5})
    assert isinstance(decide(credit(6), locked, "le_1"), BalanceOverflow)
    assert applied(decide(credit(5), locked, "le_1")).wallet.balance == BALANCE_MAX


def test_a_repeated_key_with_the_same_fields_replays_the_original_entry_and_its_balance() -> None:
    original = applied(decide(debit(30, key="k"), state({("cus_a", "USD"): 100}), "le_1")).entry
    later = state({("cus_a", "USD"): 20}, heads={"cus_a": 5}, prior=[original])
    replay = applied(decide(debit(30, key="k"), later, "le_2"))
    assert replay.idempotent_replay and replay.entry == original
    assert replay.wallet.balance == 70  # as it stood right after the original, not as it is now


def test_a_repeated_key_with_other_fields_is_refused_naming_the_original_entry() -> None:
    original = applied(decide(debit(30, key="k"), state({("cus_a", "USD"): 100}), "le_1")).entry
    refusal = decide(debit(31, key="k"), state({("cus_a", "USD"): 70}, prior=[original]), "le_2")
    assert isinstance(refusal, IdempotencyKeyReused)
    assert refusal.metadata["entry_id"] == "le_1"


def test_a_replay_wins_over_a_refusal_the_request_would_now_meet() -> None:
    original = applied(decide(debit(100, key="k"), state({("cus_a", "USD"): 100}), "le_1")).entry
    assert applied(
        decide(debit(100, key="k"), state({("cus_a", "USD"): 0}, prior=[original]), "le_2")
    ).idempotent_replay


def test_an_entry_never_steps_back_behind_the_customers_last_entry_when_the_clock_did() -> None:
    future = NOW + timedelta(seconds=3)
    outcome = applied(decide(credit(1), state(last_entry_at=future), "le_1"))
    assert outcome.entry.created_at == future


def test_several_requests_for_one_wallet_in_one_batch_see_each_others_effects() -> None:
    decision = decide_batch([credit(100), debit(30), debit(30), credit(5)], state(), ids())
    entries = decision.entries
    assert [(e.seq, e.before_balance, e.after_balance) for e in entries] == [
        (1, 0, 100),
        (2, 100, 70),
        (3, 70, 40),
        (4, 40, 45),
    ]
    assert [w.balance for w in decision.wallets.values()] == [45]
    assert list(decision.heads.values()) == [Head("cus_a", 4, NOW, last_event_seq=4)]
    assert [e.seq for e in decision.events] == [1, 2, 3, 4]


def test_refusals_in_a_batch_leave_the_later_requests_unaffected() -> None:
    decision = decide_batch(
        [debit(50), credit(40), debit(50), debit(40), credit(1, customer_id="cus_b")], state(), ids()
    )
    kinds = [type(o).__name__ for o in decision.outcomes]
    assert kinds == ["InsufficientFunds", "Applied", "InsufficientFunds", "Applied", "Applied"]
    assert [e.seq for e in decision.entries if e.customer_id == "cus_a"] == [1, 2]
    assert {(w.customer_id, w.balance) for w in decision.wallets.values()} == {("cus_a", 0), ("cus_b", 1)}


def test_a_key_used_twice_in_one_batch_applies_once_and_replays_or_refuses_the_second() -> None:
    decision = decide_batch([credit(10, key="k"), credit(10, key="k"), credit(11, key="k")], state(), ids())
    first, second, third = decision.outcomes
    assert applied(second).idempotent_replay and applied(second).entry == applied(first).entry
    assert isinstance(third, IdempotencyKeyReused)
    assert len(decision.entries) == 1


def test_a_batch_of_only_refusals_and_replays_has_nothing_to_write() -> None:
    original = applied(decide(credit(10, key="k"), state(), "le_0")).entry
    decision = decide_batch([debit(50), credit(10, key="k")], state(prior=[original]), ids())
    assert not decision.writes_anything


def test_each_currency_of_a_customer_keeps_its_balance_but_they_share_one_history() -> None:
    decision = decide_batch([credit(10), credit(20, currency="INR"), debit(5)], state(), ids())
    assert [e.seq for e in decision.entries] == [1, 2, 3]
    assert [(w.currency, w.balance) for _, w in sorted(decision.wallets.items())] == [("INR", 20), ("USD", 5)]
