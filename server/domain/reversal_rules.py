"""The rules of a reversal: a refund of a debit, a reclaim of a credit, each at most what is left of it.

A refund gives money back to what the debit drew on, last drawn first: the
never-expiring pool (which a debit takes last), then the expiring credits it
drew from, latest-expiring first. Money given back to a credit that has
expired by then expires at once, as money a hold returns to one does. A
reclaim takes only money of that credit that is still unspent and unheld.
"""

from __future__ import annotations

from server.domain.book import Draft
from server.domain.entry_rules import wallet_as_it_stood
from server.domain.errors import (
    BalanceOverflow,
    EntryNotFound,
    EntryNotReversible,
    IdempotencyKeyReused,
    ReversalExceedsEntry,
    WalletError,
)
from server.domain.holds import POOL
from server.domain.limits import BALANCE_MAX
from server.domain.model import Entry, EntryType, ReversalRequest, Reversed
from server.domain.settle import expire_lapsed

Parts = tuple[tuple[int, int], ...]
"""(credit_seq or POOL, amount) pieces of money."""


def default_reason(entry_id: str) -> str:
    return f"Reversal of {entry_id}"


def _metadata(request: ReversalRequest, original: Entry) -> dict[str, str]:
    return {**original.metadata, **request.metadata}


def _with_reversals(entry: Entry, draft: Draft) -> Entry:
    return entry._replace(reversed_amount=draft.book.reversed.get(entry.id, 0))


def refund_parts(draft: Draft, debit: Entry, already: int, amount: int) -> Parts:
    """Where `amount` more of `debit`'s money goes back, after `already` went back before.

    The debit took its expiring credits soonest-expiring first and the pool
    last, so the money goes back the other way round: the pool part first,
    then the credits latest-expiring first. Earlier refunds used up the
    first `already` of that order.
    """
    drawn = draft.book.draws_of.get(debit.id, ())
    from_lots = sorted(drawn, key=lambda part: (draft.lot(part[0]).expire_time, part[0]), reverse=True)
    order = [(POOL, debit.amount - sum(part for _, part in drawn)), *from_lots]
    parts: list[tuple[int, int]] = []
    skip, left = already, amount
    for credit_seq, part in order:
        used = min(skip, part)
        skip -= used
        take = min(part - used, left)
        if take > 0:
            parts.append((credit_seq, take))
            left -= take
    assert left == 0
    return tuple(parts)


def reclaimable(draft: Draft, credit: Entry, already: int) -> int:
    """The part of `credit` that is still unspent and unheld.

    An expiring credit's is what its own lot has left unheld (the lot's
    remainder never exceeds the amount less what was reclaimed and what
    expired: both drew on it). A credit that never expires is part of the
    wallet's pool, which is spent oldest first, so what is left of the pool
    unheld is what may still be taken back, up to what was not reclaimed.
    """
    if credit.expire_time is not None:
        return max(0, min(draft.lot(credit.seq).available, credit.amount - already))
    wallet = draft.wallet(credit.currency)
    lots = draft.lots_of(credit.currency)
    pool = wallet.balance - sum(lot.remaining for lot in lots)
    pool_held = wallet.held_balance - sum(lot.held for lot in lots)
    return max(0, min(pool - pool_held, credit.amount - already))


def _replayed(request: ReversalRequest, earlier: Entry, draft: Draft) -> Reversed | WalletError:
    original = draft.book.originals.get(request.entry_id)
    same = (
        original is not None
        and earlier.reverses_entry_id == request.entry_id
        and request.amount in (0, earlier.amount)
        and earlier.reason == (request.reason or default_reason(request.entry_id))
        and dict(earlier.metadata) == _metadata(request, original)
    )
    if not same or original is None:
        return IdempotencyKeyReused(idempotency_key=request.idempotency_key, entry_id=earlier.id)
    wallet = wallet_as_it_stood(earlier, draft)
    # The wallet its first answer showed: once what it gave back to lapsed credits had expired again.
    expired, expirations = draft.book.expired_at_once.get(earlier.id, (0, 0))
    wallet = wallet._replace(balance=wallet.balance - expired, version=wallet.version + expirations)
    return Reversed(earlier, _with_reversals(original, draft), wallet, idempotent_replay=True)


def _refusal(request: ReversalRequest, draft: Draft) -> WalletError | None:
    """The refusal a reversal meets before any amount is looked at, if any."""
    original = draft.book.originals.get(request.entry_id)
    if original is None:
        return EntryNotFound(entry_id=request.entry_id)
    if original.entry_type is EntryType.EXPIRATION:
        return EntryNotReversible(entry_id=original.id, why="it is an expiration")
    if original.reverses_entry_id:
        return EntryNotReversible(entry_id=original.id, why=f"it is a reversal of {original.reverses_entry_id}")
    return None


def reverse_entry(request: ReversalRequest, draft: Draft) -> Reversed | WalletError:
    """A refund of a debit or a reclaim of a credit, written into `draft`, or the refusal."""
    book = draft.book
    if request.idempotency_key:
        earlier = book.entries_by_key.get(request.idempotency_key)
        if earlier is not None:
            return _replayed(request, earlier, draft)
        other = book.holds_by_key.get(request.idempotency_key)
        if other is not None:
            return IdempotencyKeyReused(idempotency_key=request.idempotency_key, hold_id=other.id)
    refusal = _refusal(request, draft)
    if refusal is not None:
        return refusal
    original = book.originals[request.entry_id]
    already = book.reversed.get(original.id, 0)
    refund = original.entry_type is EntryType.DEBIT
    reversible = original.amount - already if refund else reclaimable(draft, original, already)
    amount = request.amount or reversible
    if amount == 0 or amount > reversible:
        return ReversalExceedsEntry(entry_id=original.id, amount=request.amount, reversible=reversible)
    reason = request.reason or default_reason(original.id)
    metadata = _metadata(request, original)
    wallet = draft.wallet(original.currency)
    if refund:
        if amount > BALANCE_MAX - wallet.balance:
            return BalanceOverflow(balance=wallet.balance, amount=amount, currency=original.currency)
        entry = draft.post(
            original.currency,
            EntryType.CREDIT,
            amount,
            draft.now,
            returns=refund_parts(draft, original, already, amount),
            reason=reason,
            idempotency_key=request.idempotency_key,
            metadata=metadata,
            created_by=request.created_by,
            reverses_entry_id=original.id,
        )
        # Money given back to a credit that has expired leaves again at once.
        expire_lapsed(draft, draft.now, original.currency)
    else:
        entry = draft.post(
            original.currency,
            EntryType.DEBIT,
            amount,
            draft.now,
            draws=[(original.seq if original.expire_time is not None else POOL, amount)],
            reason=reason,
            idempotency_key=request.idempotency_key,
            metadata=metadata,
            created_by=request.created_by,
            reverses_entry_id=original.id,
        )
    reversed_original = original._replace(reversed_amount=already + amount)
    return Reversed(entry, reversed_original, draft.wallet(original.currency), idempotent_replay=False)
