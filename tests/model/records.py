"""What the contract's model is told and keeps: the calls sent, what the service applied, what it must answer."""

from __future__ import annotations

from dataclasses import dataclass

from tests.model.credits import POOL, Parts, Wallet

OK = "OK"
# The refusals a keyed request keeps under its key (FAILED_PRECONDITION and NOT_FOUND ones of its own).
STORED_REASONS = frozenset(
    {
        "INSUFFICIENT_WALLET_FUNDS",
        "BALANCE_OVERFLOW",
        "ENTRY_NOT_FOUND",
        "ENTRY_NOT_REVERSIBLE",
        "REVERSAL_EXCEEDS_ENTRY",
    }
)


@dataclass(frozen=True)
class EntryCall:
    customer_id: str
    kind: str  # "credit" or "debit"
    amount: int
    key: str
    reason: str = "model"
    # A credit's expire time, epoch seconds (None: it never expires); part of "the same fields".
    expire_at: float | None = None


@dataclass(frozen=True)
class HoldCall:
    customer_id: str
    amount: int
    key: str
    ttl_s: int
    reason: str = "model"


@dataclass(frozen=True)
class ReversalCall:
    customer_id: str
    entry_id: str
    amount: int  # 0: everything reversible now
    key: str
    reason: str = "model"


KeyedCall = EntryCall | HoldCall | ReversalCall


@dataclass
class StoredEntry:
    """An entry applied under a key (a credit, a debit or a reversal), for its replay."""

    call: EntryCall | ReversalCall
    entry_id: str
    balance_after: int
    held_after: int


@dataclass
class Posted:
    """An entry the service wrote, by its id: what reversing it needs."""

    customer_id: str
    kind: str  # "credit", "debit", "reversal" or "expiration" (the ones history showed)
    amount: int
    # A credit's own lot (POOL for one that never expires); what a debit drew on; the sum of its reversals.
    lot_id: str = POOL
    draws: Parts = ()
    reversed: int = 0


@dataclass
class StoredHold:
    call: HoldCall
    hold_id: str
    reservations: Parts = ()
    status: str = "ACTIVE"  # ACTIVE, CAPTURED, RELEASED, EXPIRED
    captured_amount: int = 0
    capture_entry_id: str = ""
    # Wall-clock bounds of its expire time: not expired before `not_before`, expired after `by`.
    expires_not_before: float = 0.0
    expires_by: float = 0.0


@dataclass(frozen=True)
class Expected:
    """What the service must answer: OK or a reason; for a replay, the original's id."""

    outcome: str
    replay_of: str = ""
    # For OK: the wallet the response must carry (entries replay the one as it stood).
    balance: int | None = None
    held: int | None = None


def after(outcome: str, wallet: Wallet, replay_of: str = "") -> Expected:
    """An answer carrying `wallet` as it is."""
    return Expected(outcome, replay_of, wallet.balance, wallet.held)
