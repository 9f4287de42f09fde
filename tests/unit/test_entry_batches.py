"""Batches of entries decided with no database: in order, each alone or all or nothing."""

from __future__ import annotations

from datetime import timedelta

from server.domain.decide import BatchState, decide_batch
from server.domain.entry_batches import BatchApplied, EntryBatch
from server.domain.errors import IdempotencyKeyReused, InsufficientFunds, InvalidArgument, WalletError
from server.domain.model import Applied, EntryRequest, EntryType
from tests.unit.test_decide import NOW, credit, debit, ids, state


def decided(batch: EntryBatch, locked: BatchState) -> tuple[object, int]:
    """The batch's outcome and how many entries the decision would write."""
    decision = decide_batch([batch], locked, ids())
    return decision.outcomes[0], len(decision.entries)


def results(outcome: object) -> list[Applied | WalletError]:
    assert isinstance(outcome, BatchApplied), outcome
    return outcome.results


def test_two_debits_of_one_wallet_in_one_batch_see_each_other() -> None:
    outcome, written = decided(EntryBatch((debit(60), debit(60)), atomic=False), state({("cus_a", "USD"): 100}))
    first, second = results(outcome)
    assert isinstance(first, Applied) and first.entry.after_balance == 40
    assert isinstance(second, InsufficientFunds) and second.metadata["balance"] == "40"
    assert written == 1


def test_a_non_atomic_batch_keeps_each_outcome_in_order() -> None:
    batch = EntryBatch((credit(5, customer_id="cus_b"), debit(500), credit(7)), atomic=False)
    outcome, written = decided(batch, state({("cus_a", "USD"): 10}))
    kinds = [type(r).__name__ for r in results(outcome)]
    assert kinds == ["Applied", "InsufficientFunds", "Applied"]
    assert written == 2


def test_a_key_repeated_inside_a_batch_replays_with_the_same_fields_and_is_refused_with_others() -> None:
    batch = EntryBatch((credit(5, key="k"), credit(5, key="k"), credit(6, key="k")), atomic=False)
    first, replay, reused = results(decided(batch, state())[0])
    assert isinstance(first, Applied) and isinstance(replay, Applied)
    assert replay.idempotent_replay and replay.entry.id == first.entry.id
    assert isinstance(reused, IdempotencyKeyReused) and reused.metadata["entry_id"] == first.entry.id


def test_an_atomic_batch_applies_every_entry_when_none_is_refused() -> None:
    batch = EntryBatch((credit(5), debit(15), credit(1, customer_id="cus_b")), atomic=True)
    outcome, written = decided(batch, state({("cus_a", "USD"): 10}))
    assert [r.entry.after_balance for r in results(outcome) if isinstance(r, Applied)] == [15, 0, 1]
    assert written == 3


def test_an_atomic_batch_refused_at_one_entry_writes_nothing_and_names_its_index() -> None:
    locked = state({("cus_a", "USD"): 10})
    book_before = (locked.books["cus_a"].head, dict(locked.books["cus_a"].wallets))
    batch = EntryBatch((credit(5, customer_id="cus_b"), debit(8, key="d1"), debit(8)), atomic=True)
    outcome, written = decided(batch, locked)
    assert isinstance(outcome, InsufficientFunds)
    # As the wallet stood within the batch: the first debit had taken it to 2.
    assert outcome.metadata["index"] == "2" and outcome.metadata["balance"] == "2"
    assert written == 0
    assert (locked.books["cus_a"].head, locked.books["cus_a"].wallets) == book_before
    assert "d1" not in locked.books["cus_a"].entries_by_key


def test_a_request_after_a_refused_atomic_batch_sees_the_wallet_as_before_it() -> None:
    locked = state({("cus_a", "USD"): 10})
    refused = EntryBatch((debit(10), debit(1)), atomic=True)
    decision = decide_batch([refused, debit(10)], locked, ids())
    assert isinstance(decision.outcomes[0], InsufficientFunds)
    single = decision.outcomes[1]
    assert isinstance(single, Applied) and single.entry.before_balance == 10 and single.entry.seq == 1


def test_an_atomic_batch_refusing_a_past_expire_time_names_the_request_field() -> None:
    past = EntryRequest("cus_a", "USD", EntryType.CREDIT, 5, "", "", {}, expire_time=NOW - timedelta(seconds=1))
    outcome, _ = decided(EntryBatch((credit(1), past), atomic=True), state())
    assert isinstance(outcome, InvalidArgument)
    assert [v.field for v in outcome.violations] == ["requests[1].expire_time"]
    assert outcome.metadata["index"] == "1"


def test_an_atomic_batch_of_only_replays_writes_nothing() -> None:
    locked = state()
    decide_batch([credit(5, key="k")], locked, ids())
    outcome, written = decided(EntryBatch((credit(5, key="k"),), atomic=True), locked)
    (replay,) = results(outcome)
    assert isinstance(replay, Applied) and replay.idempotent_replay
    assert written == 0
