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
from server.domain.entry_batches import BatchApplied, EntryBatch, decide_entry_batch
from server.domain.entry_rules import decide_entry
from server.domain.errors import WalletError
from server.domain.events import Event, ThresholdRequest, ThresholdSet
from server.domain.hold_rules import capture_hold, create_hold, release_hold
from server.domain.holds import CaptureRequest, Hold, HoldOutcome, HoldRequest, ReleaseRequest, SettleRequest
from server.domain.keyed import decide_keyed
from server.domain.model import Applied, Draw, Entry, EntryRequest, Head, Lot, Return, ReversalRequest, Reversed, Wallet
from server.domain.refusals import StoredRefusal
from server.domain.reversal_rules import reverse_entry
from server.domain.settle import settle

WalletKey = tuple[str, str]
"""(customer_id, currency)"""

SingleRequest = (
    EntryRequest | HoldRequest | CaptureRequest | ReleaseRequest | SettleRequest | ThresholdRequest | ReversalRequest
)
Request = SingleRequest | EntryBatch
Outcome = Applied | BatchApplied | HoldOutcome | ThresholdSet | Reversed | None | WalletError
"""An applied entry, a batch's outcomes, a hold operation's result, a set threshold, a reversal, nothing (a
settle request), or a refusal."""


def single_requests(requests: Sequence[Request]) -> list[SingleRequest]:
    """The requests with each batch of entries replaced by its entries: what the batch must lock and read."""
    singles: list[SingleRequest] = []
    for request in requests:
        if isinstance(request, EntryBatch):
            singles.extend(request.entries)
        else:
            singles.append(request)
    return singles


@dataclass
class BatchState:
    """What a write batch sees once its locks are held: the clock, then one book per customer."""

    # The database clock, read after the locks were taken.
    now: datetime
    books: dict[str, Book]
    # Each currency's configured low-balance threshold, for wallets without their own.
    default_thresholds: Mapping[str, int] = field(default_factory=dict)


def decide(request: SingleRequest, draft: Draft) -> Outcome:
    """The outcome of one request, written into `draft`."""
    if isinstance(request, EntryRequest):
        return decide_keyed(request, draft, decide_entry)
    if isinstance(request, HoldRequest):
        return decide_keyed(request, draft, create_hold)
    if isinstance(request, ReversalRequest):
        return decide_keyed(request, draft, reverse_entry)
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
    returns: list[Return] = field(default_factory=list)
    # Refusals to store under their keys (domain.refusals).
    refusals: list[StoredRefusal] = field(default_factory=list)
    # The final state of each wallet, lot, hold and head the batch changed.
    wallets: dict[WalletKey, Wallet] = field(default_factory=dict)
    lots: dict[tuple[str, int], Lot] = field(default_factory=dict)
    holds: dict[tuple[str, str], Hold] = field(default_factory=dict)
    heads: dict[str, Head] = field(default_factory=dict)

    @property
    def writes_anything(self) -> bool:
        return bool(self.entries or self.wallets or self.lots or self.holds or self.refusals)

    def take(self, draft: Draft) -> None:
        # Plain loops, each skipped when empty: this runs once per request of every batch.
        customer_id = draft.head.customer_id
        if draft.entries or draft.events:
            self.entries.extend(draft.entries)
            self.events.extend(draft.events)
            self.heads[customer_id] = draft.head
        if draft.draws:
            self.draws.extend(draft.draws)
        if draft.returns:
            self.returns.extend(draft.returns)
        if draft.refusal is not None:
            self.refusals.append(draft.refusal)
        for currency, wallet in draft.wallets.items():
            self.wallets[(customer_id, currency)] = wallet
        for credit_seq, lot in draft.lots.items():
            self.lots[(customer_id, credit_seq)] = lot
        for hold_id, hold in draft.holds.items():
            self.holds[(customer_id, hold_id)] = hold


def decide_batch(requests: Sequence[Request], state: BatchState, new_id: Callable[[], str]) -> BatchDecision:
    """Settles each customer once, then decides the requests in arrival order."""
    decision = BatchDecision()
    for customer_id in sorted({r.customer_id for r in single_requests(requests)}):
        book = state.books[customer_id]
        if not book.holds and not book.lots:
            # Only holds and expiring credits fall due; most books have neither, and skipping
            # their empty settlement saves a third of deciding a plain entry.
            continue
        draft = Draft(book, state.now, new_id)
        settle(draft)
        draft.finish(state.default_thresholds)
        book.apply(draft)
        decision.take(draft)
    for request in requests:
        if isinstance(request, EntryBatch):
            batch_outcome, drafts = decide_entry_batch(
                request, state.books, state.now, new_id, state.default_thresholds
            )
            for taken in drafts:
                decision.take(taken)
            decision.outcomes.append(batch_outcome)
            continue
        book = state.books[request.customer_id]
        draft = Draft(book, state.now, new_id)
        outcome = decide(request, draft)
        if not isinstance(outcome, WalletError):
            draft.finish(state.default_thresholds)
            book.apply(draft)
            decision.take(draft)
        elif draft.refusal is not None:
            book.refusals_by_key[draft.refusal.idempotency_key] = draft.refusal
            decision.take(draft)
        decision.outcomes.append(outcome)
    return decision
