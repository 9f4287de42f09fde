"""One customer's locked state in a write batch (`Book`), and the draft a decision writes into.

A decision never changes a `Book`: it reads it through a `Draft`, which
records what the decision would write (entries, draws, wallets, lots, holds)
and answers reads with those changes applied. `Book.apply(draft)` then takes
the changes in, so the next request of the batch sees them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import datetime
from typing import Any

from server.domain.events import HOLD_EVENTS, Event, EventType, crossing, threshold_of
from server.domain.holds import POOL, Hold
from server.domain.model import Draw, Entry, EntryType, Head, Lot, Return, Wallet
from server.domain.refusals import StoredRefusal

# An event as a change records it: (type, currency, occurred_at, entry, hold).
_Noted = tuple[EventType, str, datetime, Entry | None, Hold | None]


@dataclass
class Book:
    """What a batch sees of one customer once the customer's head is locked."""

    head: Head
    # The customer's stored wallets by currency (a missing one is a zero balance).
    wallets: dict[str, Wallet]
    # The customer's expiring credits with money left, by credit position.
    lots: dict[int, Lot]
    # The holds the batch names, and the active ones that fell due.
    holds: dict[str, Hold]
    # Earlier entries and holds made with the idempotency keys the batch uses.
    entries_by_key: dict[str, Entry] = field(default_factory=dict)
    holds_by_key: dict[str, Hold] = field(default_factory=dict)
    # Capture entries of the holds in `holds`, by id, for replays.
    capture_entries: dict[str, Entry] = field(default_factory=dict)
    # Refusals stored under the idempotency keys the batch uses (domain.refusals).
    refusals_by_key: dict[str, StoredRefusal] = field(default_factory=dict)
    # The entries the batch's reversals name, by id; what a debit drew from each lot, by entry id; the sum of
    # each named entry's reversals so far. The lots those entries drew on (or are) are in `lots`, spent or not.
    originals: dict[str, Entry] = field(default_factory=dict)
    draws_of: dict[str, tuple[tuple[int, int], ...]] = field(default_factory=dict)
    reversed: dict[str, int] = field(default_factory=dict)
    # (amount, expirations) of a refund's returns to lapsed credits, by its id: a replay shows its first wallet.
    expired_at_once: dict[str, tuple[int, int]] = field(default_factory=dict)

    def copy(self) -> Book:
        """A book that later `apply` calls on this one leave unchanged (the values themselves are immutable)."""
        copies: dict[str, Any] = {f.name: dict(getattr(self, f.name)) for f in fields(self) if f.name != "head"}
        return replace(self, **copies)

    def apply(self, draft: Draft) -> None:
        """Takes a decision's changes in."""
        self.head = draft.head
        self.wallets.update(draft.wallets)
        if draft.lots:
            self.lots.update(draft.lots)
        if draft.holds:
            self.holds.update(draft.holds)
        for entry in draft.entries:
            if entry.idempotency_key:
                self.entries_by_key[entry.idempotency_key] = entry
            if entry.hold_id:
                self.capture_entries[entry.id] = entry
            if entry.reverses_entry_id:
                self.reversed[entry.reverses_entry_id] = self.reversed.get(entry.reverses_entry_id, 0) + entry.amount
        for hold in draft.holds.values():
            if hold.idempotency_key:
                self.holds_by_key[hold.idempotency_key] = hold
        if len(draft.entries) > 1 and draft.entries[0].reverses_entry_id:
            # A reversal's change is the reversal and then only expirations: a duplicate later in the batch replays.
            after = draft.entries[1:]
            self.expired_at_once[draft.entries[0].id] = (sum(entry.amount for entry in after), len(after))


class Draft:
    """A decision's pending changes over a `Book`, read through."""

    def __init__(self, book: Book, now: datetime, new_id: Callable[[], str]) -> None:
        self.book = book
        self.now = now
        self.new_id = new_id
        self.head = book.head
        self.wallets: dict[str, Wallet] = {}
        self.lots: dict[int, Lot] = {}
        self.holds: dict[str, Hold] = {}
        self.entries: list[Entry] = []
        self.draws: list[Draw] = []
        self.returns: list[Return] = []
        # A keyed request's refusal to store under its key (domain.keyed).
        self.refusal: StoredRefusal | None = None
        self.noted: list[_Noted] = []
        # Filled by `finish`: the change's events, in order, with their positions.
        self.events: list[Event] = []

    def wallet(self, currency: str) -> Wallet:
        found = self.wallets.get(currency)
        if found is None:
            found = self.book.wallets.get(currency)
        return found if found is not None else Wallet(self.head.customer_id, currency, 0, None, None)

    def set_wallet(self, wallet: Wallet) -> None:
        self.wallets[wallet.currency] = wallet

    def lot(self, credit_seq: int) -> Lot:
        return self.lots.get(credit_seq) or self.book.lots[credit_seq]

    def set_lot(self, lot: Lot) -> None:
        self.lots[lot.credit_seq] = lot

    def lots_of(self, currency: str | None) -> list[Lot]:
        """The lots with money left (of one currency, or all), soonest-expiring first, oldest first among equals."""
        merged = {**self.book.lots, **self.lots}
        found = [lot for lot in merged.values() if lot.remaining > 0 and currency in (None, lot.currency)]
        return sorted(found, key=lambda lot: (lot.expire_time, lot.credit_seq))

    def hold(self, hold_id: str) -> Hold | None:
        return self.holds.get(hold_id) or self.book.holds.get(hold_id)

    def set_hold(self, hold: Hold) -> None:
        self.holds[hold.id] = hold

    def note_hold(self, hold: Hold) -> None:
        """Records the hold's event: created while active, else the status it closed with."""
        at = hold.created_at if hold.closed_at is None else hold.closed_at
        self.noted.append((HOLD_EVENTS[hold.status], hold.currency, at, None, hold))

    def finish(self, default_thresholds: Mapping[str, int]) -> None:
        """Gives the change's events the wallet as it stood after it, adds threshold crossings, numbers them.

        Entry and hold events come in the order they happened; each wallet's BALANCE_* event comes last.
        """
        seq = self.head.last_event_seq
        customer_id = self.head.customer_id
        events: list[Event] = []
        for event_type, currency, at, entry, hold in self.noted:
            seq += 1
            events.append(Event(customer_id, seq, event_type, currency, at, self.wallet(currency), entry, hold))
        for currency, after in sorted(self.wallets.items()):
            before = self.book.wallets.get(currency) or Wallet(customer_id, currency, 0, None, None)
            crossed = crossing(before, after, default_thresholds)
            if crossed is not None:
                seq += 1
                at = events[-1].occurred_at if events else self.now
                threshold = threshold_of(after, default_thresholds) or threshold_of(before, default_thresholds)
                events.append(Event(customer_id, seq, crossed, currency, at, after, threshold=threshold))
        self.events = events
        if events:
            self.head = self.head._replace(last_event_seq=seq)

    def take_unheld(self, currency: str, amount: int) -> tuple[tuple[int, int], ...]:
        """(credit_seq or POOL, amount) parts of `amount` unheld, soonest-expiring first (the caller checked it is)."""
        if not self.book.lots and not self.lots:
            return ((POOL, amount),)  # the common case: the wallet holds no expiring credit
        parts: list[tuple[int, int]] = []
        left = amount
        for lot in self.lots_of(currency):
            if left == 0:
                break
            take = min(lot.available, left)
            if take > 0:
                parts.append((lot.credit_seq, take))
                left -= take
        if left:
            parts.append((POOL, left))
        return tuple(parts)

    def post(
        self,
        currency: str,
        entry_type: EntryType,
        amount: int,
        at: datetime,
        *,
        draws: Iterable[tuple[int, int]] = (),
        reason: str = "",
        idempotency_key: str = "",
        metadata: Mapping[str, str] | None = None,
        created_by: str = "",
        expire_time: datetime | None = None,
        hold_id: str = "",
        expired_entry_id: str = "",
        reverses_entry_id: str = "",
        returns: Iterable[tuple[int, int]] = (),
    ) -> Entry:
        """Writes one entry at `at` (never before the customer's last entry) and moves the wallet with it.

        `draws` are the (credit_seq, amount) parts taken from lots and
        `returns` the parts a refund gives back to them; the lots' remainders
        go down and up by them (the POOL part needs no bookkeeping).
        """
        wallet = self.wallet(currency)
        after = wallet.balance + amount if entry_type is EntryType.CREDIT else wallet.balance - amount
        assert after >= 0 and wallet.held_balance <= after
        created_at = at if self.head.last_entry_at is None else max(at, self.head.last_entry_at)
        seq = self.head.last_seq + 1
        entry = Entry(
            id=self.new_id(),
            customer_id=self.head.customer_id,
            seq=seq,
            currency=currency,
            entry_type=entry_type,
            amount=amount,
            before_balance=wallet.balance,
            after_balance=after,
            reason=reason,
            idempotency_key=idempotency_key,
            metadata=dict(metadata) if metadata else {},
            created_at=created_at,
            created_by=created_by,
            expire_time=expire_time,
            hold_id=hold_id,
            expired_entry_id=expired_entry_id,
            wallet_version=wallet.version + 1,
            wallet_held=wallet.held_balance,
            reverses_entry_id=reverses_entry_id,
        )
        self.entries.append(entry)
        self.head = Head(self.head.customer_id, seq, created_at, self.head.last_event_seq)  # not _replace: per entry
        self.noted.append((EventType.ENTRY_CREATED, currency, created_at, entry, None))
        # Built whole rather than by `_replace`, which costs twice as much: this runs for every entry written.
        self.set_wallet(
            Wallet(
                customer_id=wallet.customer_id,
                currency=currency,
                balance=after,
                created_at=wallet.created_at or created_at,
                updated_at=created_at,
                held_balance=wallet.held_balance,
                version=wallet.version + 1,
                low_balance_threshold=wallet.low_balance_threshold,
            )
        )
        for credit_seq, part in draws:
            if credit_seq == POOL:
                continue
            lot = self.lot(credit_seq)
            self.set_lot(replace(lot, remaining=lot.remaining - part))
            self.draws.append(Draw(self.head.customer_id, seq, credit_seq, part))
        for credit_seq, part in returns:
            if credit_seq == POOL:
                continue
            lot = self.lot(credit_seq)
            self.set_lot(replace(lot, remaining=lot.remaining + part))
            self.returns.append(Return(self.head.customer_id, seq, credit_seq, part))
        return entry
