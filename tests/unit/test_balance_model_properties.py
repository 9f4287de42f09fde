"""Hypothesis over the balance model: any sequence of credits (expiring or not), debits, holds,
captures, releases and the passing of time keeps every invariant the verifier checks."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from server.domain.book import Book
from server.domain.decide import BatchState, Request, decide_batch
from server.domain.holds import POOL, CaptureRequest, HoldOutcome, HoldRequest, HoldStatus, ReleaseRequest
from server.domain.model import Entry, EntryRequest, EntryType, Head

T0 = datetime(2026, 1, 1, tzinfo=UTC)
MINUTE = timedelta(minutes=1)

amounts = st.integers(min_value=1, max_value=500)
minutes = st.integers(min_value=1, max_value=30)
operations = st.one_of(
    st.tuples(st.just("credit"), amounts, st.none() | minutes),
    st.tuples(st.just("debit"), amounts, st.none()),
    st.tuples(st.just("hold"), amounts, minutes),
    st.tuples(st.just("capture"), st.integers(min_value=0, max_value=600), st.integers(min_value=0, max_value=20)),
    st.tuples(st.just("release"), st.just(0), st.integers(min_value=0, max_value=20)),
    st.tuples(st.just("wait"), st.just(0), minutes),
)


def _check(book: Book, history: list[Entry], hold_events: int) -> None:
    wallet = book.wallets.get("USD")
    if wallet is None:
        assert not history
        return
    balance = 0
    for entry in history:
        assert entry.before_balance == balance
        balance = entry.after_balance
        assert entry.wallet_version > 0
    assert wallet.balance == balance >= wallet.held_balance >= 0
    active = [h for h in book.holds.values() if h.status is HoldStatus.ACTIVE]
    assert wallet.held_balance == sum(h.amount for h in active)
    lots = [lot for lot in book.lots.values() if lot.remaining > 0]
    for lot in book.lots.values():
        reserved = sum(a for h in active for s, a in h.reservations if s == lot.credit_seq)
        assert 0 <= lot.held == reserved <= lot.remaining <= lot.amount
    pool = wallet.balance - sum(lot.remaining for lot in lots)
    pool_held = wallet.held_balance - sum(lot.held for lot in lots)
    assert 0 <= pool_held <= pool
    assert sum(a for h in active for s, a in h.reservations if s == POOL) == pool_held
    assert wallet.version == len(history) + hold_events


@settings(max_examples=150, deadline=None)
@given(st.lists(operations, max_size=40))
def test_no_sequence_of_operations_breaks_the_balance_model(ops: list[tuple[str, int, int | None]]) -> None:
    book = Book(Head("cus_a", 0, None), {}, {}, {})
    history: list[Entry] = []
    hold_ids: list[str] = []
    hold_events = 0
    ids = itertools.count(1)
    now = T0
    for kind, amount, extra in ops:
        request: Request | None = None
        if kind == "credit":
            expire = None if extra is None else now + extra * MINUTE
            request = EntryRequest("cus_a", "USD", EntryType.CREDIT, amount, "", "", {}, expire_time=expire)
        elif kind == "debit":
            request = EntryRequest("cus_a", "USD", EntryType.DEBIT, amount, "", "", {})
        elif kind == "hold":
            assert extra is not None
            request = HoldRequest("cus_a", "USD", amount, "", "", {}, extra * MINUTE)
        elif kind in ("capture", "release") and hold_ids:
            assert extra is not None
            hold_id = hold_ids[extra % len(hold_ids)]
            if kind == "capture":
                request = CaptureRequest("cus_a", hold_id, amount, "", {})
            else:
                request = ReleaseRequest("cus_a", hold_id)
        elif kind == "wait":
            assert extra is not None
            now += extra * MINUTE
        before = {h.id: h.status for h in book.holds.values()}
        book.lots = {s: lot for s, lot in book.lots.items() if lot.remaining > 0}
        requests = [request] if request is not None else []
        decision = decide_batch(requests, BatchState(now, {"cus_a": book}), lambda: f"le_{next(ids)}")
        history.extend(decision.entries)
        for outcome in decision.outcomes:
            if isinstance(outcome, HoldOutcome) and not outcome.idempotent_replay and kind == "hold":
                hold_ids.append(outcome.hold.id)
        for hold in book.holds.values():
            was = before.get(hold.id)
            if was is None:
                hold_events += 1  # created
            if hold.status in (HoldStatus.RELEASED, HoldStatus.EXPIRED) and was is not hold.status:
                hold_events += 1
        _check(book, history, hold_events)
        for entry in history:
            assert entry.created_at <= now
        assert [e.seq for e in history] == list(range(1, len(history) + 1))
        assert all(a.created_at <= b.created_at for a, b in itertools.pairwise(history))
