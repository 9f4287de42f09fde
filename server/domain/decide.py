"""The rules of the write path, as pure decisions over the state a batch has locked.

`decide(request, state, entry_id)` reads the state and returns the request's
outcome: the entry it applies, a replay of the entry its idempotency key
already made, or the refusal the rules demand. It changes nothing; the caller
records an applied entry with `state.record`, so the next request of the batch
is decided against the state the earlier ones left. `decide_batch` does that
for a whole batch and says what to write.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from server.domain.errors import BalanceOverflow, IdempotencyKeyReused, InsufficientFunds, WalletError
from server.domain.limits import BALANCE_MAX
from server.domain.model import Applied, Entry, EntryRequest, EntryType, Head, Wallet

WalletKey = tuple[str, str]
"""(customer_id, currency)"""
KeyRef = tuple[str, str]
"""(customer_id, idempotency_key)"""

Outcome = Applied | WalletError


@dataclass
class BatchState:
    """What a write batch sees once its locks are held, as its requests change it."""

    # The database clock, read after the locks were taken.
    now: datetime
    # The head of every customer in the batch.
    heads: dict[str, Head]
    # The stored wallets among those the batch writes (a missing one is a zero balance).
    wallets: dict[WalletKey, Wallet]
    # Earlier entries made with the idempotency keys the batch uses.
    prior: dict[KeyRef, Entry]

    def wallet(self, customer_id: str, currency: str) -> Wallet:
        found = self.wallets.get((customer_id, currency))
        return found if found is not None else Wallet(customer_id, currency, 0, None, None)

    def record(self, applied: Applied) -> None:
        """Takes a newly applied entry into the state: its wallet, its customer's head, its key."""
        entry = applied.entry
        self.wallets[(entry.customer_id, entry.currency)] = applied.wallet
        self.heads[entry.customer_id] = Head(entry.customer_id, entry.seq, entry.created_at)
        if entry.idempotency_key:
            self.prior[(entry.customer_id, entry.idempotency_key)] = entry


def balance_after(balance: int, request: EntryRequest) -> int:
    """The balance once the entry applies; raises the refusal the rules demand.

    A debit may not take the balance below zero, and a credit may not take it
    beyond what a 64-bit column holds.
    """
    amount = request.amount
    assert balance >= 0 and amount > 0
    if request.entry_type is EntryType.DEBIT:
        if amount > balance:
            raise InsufficientFunds(balance=balance, amount=amount, currency=request.currency)
        return balance - amount
    if amount > BALANCE_MAX - balance:
        raise BalanceOverflow(balance=balance, amount=amount, currency=request.currency)
    return balance + amount


def _replay(request: EntryRequest, earlier: Entry, wallet: Wallet) -> Outcome:
    if not request.same_parameters_as(earlier):
        return IdempotencyKeyReused(idempotency_key=request.idempotency_key, entry_id=earlier.id)
    # The wallet as it stood right after the original entry.
    as_it_stood = Wallet(
        request.customer_id,
        earlier.currency,
        earlier.after_balance,
        wallet.created_at or earlier.created_at,
        earlier.created_at,
    )
    return Applied(earlier, as_it_stood, idempotent_replay=True)


def decide(request: EntryRequest, state: BatchState, entry_id: str) -> Outcome:
    """The outcome of one request against `state`; the new entry, if any, gets `entry_id`."""
    wallet = state.wallet(request.customer_id, request.currency)
    if request.idempotency_key:
        earlier = state.prior.get((request.customer_id, request.idempotency_key))
        if earlier is not None:
            return _replay(request, earlier, wallet)
    try:
        after = balance_after(wallet.balance, request)
    except WalletError as refusal:
        return refusal
    head = state.heads[request.customer_id]
    # Never step back behind the customer's last entry, even if the database clock did.
    created_at = state.now if head.last_entry_at is None else max(state.now, head.last_entry_at)
    entry = Entry(
        id=entry_id,
        customer_id=request.customer_id,
        seq=head.last_seq + 1,
        currency=request.currency,
        entry_type=request.entry_type,
        amount=request.amount,
        before_balance=wallet.balance,
        after_balance=after,
        reason=request.reason,
        idempotency_key=request.idempotency_key,
        metadata=dict(request.metadata),
        created_at=created_at,
        created_by=request.created_by,
    )
    new_wallet = wallet._replace(balance=after, created_at=wallet.created_at or created_at, updated_at=created_at)
    return Applied(entry, new_wallet, idempotent_replay=False)


@dataclass(frozen=True)
class BatchDecision:
    """The outcome of every request of a batch, in order, and the rows the batch must write."""

    outcomes: list[Outcome]
    new_entries: list[Entry]
    # The final state of each wallet and head the new entries touched, in lock order.
    wallets: list[Wallet]
    heads: list[Head]


def decide_batch(requests: Sequence[EntryRequest], state: BatchState, new_id: Callable[[], str]) -> BatchDecision:
    """Decides the requests in arrival order, each against the state the ones before it left."""
    outcomes: list[Outcome] = []
    new_entries: list[Entry] = []
    for request in requests:
        outcome = decide(request, state, new_id())
        if isinstance(outcome, Applied) and not outcome.idempotent_replay:
            state.record(outcome)
            new_entries.append(outcome.entry)
        outcomes.append(outcome)
    wallet_keys = sorted({(e.customer_id, e.currency) for e in new_entries})
    customers = sorted({e.customer_id for e in new_entries})
    return BatchDecision(
        outcomes=outcomes,
        new_entries=new_entries,
        wallets=[state.wallets[key] for key in wallet_keys],
        heads=[state.heads[customer_id] for customer_id in customers],
    )
