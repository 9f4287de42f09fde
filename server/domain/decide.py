"""The rules of the write path, as decisions over the state a batch has locked.

For each customer, `settle` first posts what fell due by the batch's clock
(holds that expired, credits whose remainder lapsed). Then `decide(request,
book, ...)` gives each request its outcome: the entry or hold it applies, a
replay of what its idempotency key or closing operation already did, or the
refusal the rules demand. Decisions read the book and write into a `Draft`;
`decide_batch` takes each draft into the book, so the next request of the
batch is decided against the state the earlier ones left.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from server.domain.book import Book, Draft
from server.domain.errors import (
    BalanceOverflow,
    FieldViolation,
    IdempotencyKeyReused,
    InsufficientFunds,
    InvalidArgument,
    WalletError,
)
from server.domain.events import Event, ThresholdRequest, ThresholdSet
from server.domain.hold_rules import capture_hold, create_hold, release_hold
from server.domain.holds import CaptureRequest, Hold, HoldOutcome, HoldRequest, ReleaseRequest, SettleRequest
from server.domain.limits import BALANCE_MAX
from server.domain.model import Applied, Draw, Entry, EntryRequest, EntryType, Head, Lot, Wallet
from server.domain.settle import settle

WalletKey = tuple[str, str]
"""(customer_id, currency)"""

Request = EntryRequest | HoldRequest | CaptureRequest | ReleaseRequest | SettleRequest | ThresholdRequest
Outcome = Applied | HoldOutcome | ThresholdSet | None | WalletError
"""An applied entry, a hold operation's result, a set threshold, nothing (a settle request), or a refusal."""


@dataclass
class BatchState:
    """What a write batch sees once its locks are held: the clock, then one book per customer."""

    # The database clock, read after the locks were taken.
    now: datetime
    books: dict[str, Book]
    # Each currency's configured low-balance threshold, for wallets without their own.
    default_thresholds: Mapping[str, int] = field(default_factory=dict)


def balance_after(balance: int, request: EntryRequest, held: int = 0) -> int:
    """The balance once the entry applies; raises the refusal the rules demand.

    A debit may not take the balance below what active holds reserve (so
    never below zero), and a credit may not take it beyond what a 64-bit
    column holds.
    """
    amount = request.amount
    assert 0 <= held <= balance and amount > 0
    if request.entry_type is not EntryType.CREDIT:
        if amount > balance - held:
            raise InsufficientFunds(balance=balance, amount=amount, currency=request.currency, held=held)
        return balance - amount
    if amount > BALANCE_MAX - balance:
        raise BalanceOverflow(balance=balance, amount=amount, currency=request.currency)
    return balance + amount


def _replayed_entry(request: EntryRequest, earlier: Entry, draft: Draft) -> Outcome:
    if not request.same_parameters_as(earlier):
        return IdempotencyKeyReused(idempotency_key=request.idempotency_key, entry_id=earlier.id)
    # The wallet as it stood right after the original entry.
    current = draft.wallet(earlier.currency)
    as_it_stood = Wallet(
        request.customer_id,
        earlier.currency,
        earlier.after_balance,
        current.created_at or earlier.created_at,
        earlier.created_at,
        earlier.wallet_held,
        earlier.wallet_version,
    )
    return Applied(earlier, as_it_stood, idempotent_replay=True)


def decide_entry(request: EntryRequest, draft: Draft) -> Outcome:
    """A credit or a debit."""
    book = draft.book
    if request.idempotency_key:
        earlier = book.entries_by_key.get(request.idempotency_key)
        if earlier is not None:
            return _replayed_entry(request, earlier, draft)
        other = book.holds_by_key.get(request.idempotency_key)
        if other is not None:
            return IdempotencyKeyReused(idempotency_key=request.idempotency_key, hold_id=other.id)
    if request.expire_time is not None and request.expire_time <= draft.now:
        return InvalidArgument([FieldViolation("expire_time", "must be in the future")])
    wallet = draft.wallet(request.currency)
    try:
        after = balance_after(wallet.balance, request, wallet.held_balance)
    except WalletError as refusal:
        return refusal
    draws = draft.take_unheld(request.currency, request.amount) if request.entry_type is EntryType.DEBIT else ()
    entry = draft.post(
        request.currency,
        request.entry_type,
        request.amount,
        draft.now,
        draws=draws,
        reason=request.reason,
        idempotency_key=request.idempotency_key,
        metadata=request.metadata,
        created_by=request.created_by,
        expire_time=request.expire_time,
    )
    if request.expire_time is not None:
        lot = Lot(
            entry.customer_id, entry.currency, entry.seq, entry.id, request.expire_time, entry.amount, entry.amount, 0
        )
        draft.set_lot(lot)
    new_wallet = draft.wallets[request.currency]
    assert new_wallet.balance == after
    return Applied(entry, new_wallet, idempotent_replay=False)


def decide(request: Request, draft: Draft) -> Outcome:
    """The outcome of one request, written into `draft`."""
    if isinstance(request, EntryRequest):
        return decide_entry(request, draft)
    if isinstance(request, HoldRequest):
        return create_hold(request, draft)
    if isinstance(request, CaptureRequest):
        return capture_hold(request, draft)
    if isinstance(request, ReleaseRequest):
        return release_hold(request, draft)
    if isinstance(request, ThresholdRequest):
        return set_threshold(request, draft)
    return None  # a settle request: settling is all it asks for


def set_threshold(request: ThresholdRequest, draft: Draft) -> ThresholdSet:
    """A threshold is a setting, not a change of the balance: the version stays, the wallet row is made."""
    wallet = draft.wallet(request.currency)
    draft.set_wallet(
        wallet._replace(
            low_balance_threshold=request.threshold,
            created_at=wallet.created_at or draft.now,
            updated_at=wallet.updated_at or draft.now,
        )
    )
    return ThresholdSet(draft.wallet(request.currency))


@dataclass
class BatchDecision:
    """The outcome of every request of a batch, in order, and the rows the batch must write."""

    outcomes: list[Outcome] = field(default_factory=list)
    entries: list[Entry] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    draws: list[Draw] = field(default_factory=list)
    # The final state of each wallet, lot, hold and head the batch changed.
    wallets: dict[WalletKey, Wallet] = field(default_factory=dict)
    lots: dict[tuple[str, int], Lot] = field(default_factory=dict)
    holds: dict[tuple[str, str], Hold] = field(default_factory=dict)
    heads: dict[str, Head] = field(default_factory=dict)

    @property
    def writes_anything(self) -> bool:
        return bool(self.entries or self.wallets or self.lots or self.holds)

    def take(self, draft: Draft) -> None:
        # Plain loops, each skipped when empty: this runs once per request of every batch.
        customer_id = draft.head.customer_id
        if draft.entries or draft.events:
            self.entries.extend(draft.entries)
            self.events.extend(draft.events)
            self.heads[customer_id] = draft.head
        if draft.draws:
            self.draws.extend(draft.draws)
        for currency, wallet in draft.wallets.items():
            self.wallets[(customer_id, currency)] = wallet
        for credit_seq, lot in draft.lots.items():
            self.lots[(customer_id, credit_seq)] = lot
        for hold_id, hold in draft.holds.items():
            self.holds[(customer_id, hold_id)] = hold


def decide_batch(requests: Sequence[Request], state: BatchState, new_id: Callable[[], str]) -> BatchDecision:
    """Settles each customer once, then decides the requests in arrival order."""
    decision = BatchDecision()
    for customer_id in sorted({r.customer_id for r in requests}):
        book = state.books[customer_id]
        draft = Draft(book, state.now, new_id)
        settle(draft)
        draft.finish(state.default_thresholds)
        book.apply(draft)
        decision.take(draft)
    for request in requests:
        book = state.books[request.customer_id]
        draft = Draft(book, state.now, new_id)
        outcome = decide(request, draft)
        if not isinstance(outcome, WalletError):
            draft.finish(state.default_thresholds)
            book.apply(draft)
            decision.take(draft)
        decision.outcomes.append(outcome)
    return decision
