"""The rules of a credit or a debit: the balance it leaves, its replay, its entry.

`decide_entry` reads the customer's book through a `Draft` and writes the
entry into it, or returns the refusal (or the replay) the rules demand.
"""

from __future__ import annotations

from server.domain.book import Draft
from server.domain.errors import (
    BalanceOverflow,
    FieldViolation,
    IdempotencyKeyReused,
    InsufficientFunds,
    InvalidArgument,
    WalletError,
)
from server.domain.limits import BALANCE_MAX
from server.domain.model import Applied, Entry, EntryRequest, EntryType, Lot, Wallet


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


def wallet_as_it_stood(earlier: Entry, draft: Draft) -> Wallet:
    """The wallet as it stood right after an earlier entry, for its replay."""
    current = draft.wallet(earlier.currency)
    return Wallet(
        earlier.customer_id,
        earlier.currency,
        earlier.after_balance,
        current.created_at or earlier.created_at,
        earlier.created_at,
        earlier.wallet_held,
        earlier.wallet_version,
    )


def _replayed_entry(request: EntryRequest, earlier: Entry, draft: Draft) -> Applied | WalletError:
    if not request.same_parameters_as(earlier):
        return IdempotencyKeyReused(idempotency_key=request.idempotency_key, entry_id=earlier.id)
    return Applied(earlier, wallet_as_it_stood(earlier, draft), idempotent_replay=True)


def decide_entry(request: EntryRequest, draft: Draft) -> Applied | WalletError:
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
