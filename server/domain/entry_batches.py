"""Batches of entries (BatchCreateLedgerEntries), decided in their order: each alone, or all or nothing.

A batch is one request of the write path, so all of its entries share one
transaction and are decided in the order given, each exactly as a single
CreateLedgerEntry would be at that point: against the books as the entries
before it left them, idempotency keys included. A non-atomic batch keeps
every entry's own outcome. An atomic one keeps them only if none is refused;
at the first refusal it puts the books back as they were before the batch
and is refused as a whole, with that entry's refusal and its position.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

from server.domain.book import Book, Draft
from server.domain.entry_rules import decide_entry
from server.domain.errors import FieldViolation, InvalidArgument, WalletError
from server.domain.keyed import decide_keyed
from server.domain.limits import BATCH_ENTRIES_MAX
from server.domain.model import Applied, EntryRequest


@dataclass(frozen=True)
class EntryBatch:
    """Validated entries to decide in order; `atomic`: all apply or none does."""

    entries: tuple[EntryRequest, ...]
    atomic: bool

    def __post_init__(self) -> None:
        assert 1 <= len(self.entries) <= BATCH_ENTRIES_MAX


@dataclass(frozen=True)
class BatchApplied:
    """The outcome of each entry of a batch, in order (an atomic batch's are all `Applied`)."""

    results: list[Applied | WalletError]


def at_index(refusal: WalletError, index: int) -> WalletError:
    """The refusal of an atomic batch: the entry's own, with its position in the metadata (`index`).

    A field the ledger refuses (an `expire_time` already past) is named as
    the request's field, `requests[3].expire_time`, as malformed ones are.
    """
    if isinstance(refusal, InvalidArgument):
        refusal = InvalidArgument(
            [FieldViolation(f"requests[{index}].{v.field}", v.description) for v in refusal.violations]
        )
    refusal.metadata["index"] = str(index)
    return refusal


def decide_entry_batch(
    batch: EntryBatch,
    books: dict[str, Book],
    now: datetime,
    new_id: Callable[[], str],
    default_thresholds: Mapping[str, int],
) -> tuple[BatchApplied | WalletError, list[Draft]]:
    """The batch's outcome and the drafts to write (only the refusal to store when an atomic batch is refused).

    Each entry is decided into its own draft and taken into its book at
    once, so the next entry sees it. An atomic batch first keeps a copy of
    every book it touches; a refusal puts the copies back in `books`.
    """
    saved: dict[str, Book] = {}
    drafts: list[Draft] = []
    results: list[Applied | WalletError] = []
    for index, entry in enumerate(batch.entries):
        book = books[entry.customer_id]
        if batch.atomic and entry.customer_id not in saved:
            saved[entry.customer_id] = book.copy()
        draft = Draft(book, now, new_id)
        outcome = decide_keyed(entry, draft, decide_entry)
        if isinstance(outcome, WalletError):
            if batch.atomic:
                books.update(saved)
            if draft.refusal is not None:
                # Stored under the refused entry's own key; an atomic batch's other keys stay unused.
                books[entry.customer_id].refusals_by_key[draft.refusal.idempotency_key] = draft.refusal
                drafts.append(draft)
            if batch.atomic:
                return at_index(outcome, index), drafts[-1:] if draft.refusal is not None else []
            results.append(outcome)
            continue
        draft.finish(default_thresholds)
        book.apply(draft)
        drafts.append(draft)
        results.append(outcome)
    return BatchApplied(results), drafts
