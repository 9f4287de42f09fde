"""Reversals in the contract's model: ReverseLedgerEntry refunds a debit or reclaims a credit (docs/reversals.md).

What it follows, on top of `tests.model.contract`:
- a key refused before, or used by an entry or a hold, answers as for any
  keyed write; the same reversal again (the same entry and reason, and amount
  0 or the amount it resolved to) replays the original with the wallet as it
  stood after it, once what it gave back to a lapsed credit had expired;
- an id that is not one of the customer's entries is ENTRY_NOT_FOUND (kept
  under the key, like every refusal below); an expiration or a reversal is
  ENTRY_NOT_REVERSIBLE;
- a refund may take back what of the debit was not refunded yet, a reclaim
  what the credit has left unheld (`Wallet.reclaimable`); amount 0 is all of
  it, and more than that, or 0 of nothing, is REVERSAL_EXCEEDS_ENTRY;
- where the money goes is `Wallet.refund` and `Wallet.reclaim`.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING

from tests.model.credits import Wallet
from tests.model.records import OK, Expected, Posted, ReversalCall, StoredEntry, after

if TYPE_CHECKING:
    from tests.model.contract import ContractModel


def _reversible(wallet: Wallet, original: Posted) -> int:
    if original.kind == "debit":
        return original.amount - original.reversed
    return wallet.reclaimable(original.lot_id, original.amount, original.reversed)


def _apply(wallet: Wallet, original: Posted, amount: int) -> None:
    if original.kind == "debit":
        wallet.refund(original.draws, original.reversed, amount)
    else:
        wallet.reclaim(original.lot_id, amount)


def expect_reversal(model: ContractModel, call: ReversalCall) -> Expected:
    key = (call.customer_id, call.key)
    if (again := model.refused_before(call)) is not None:
        return again
    if key in model.entries:
        stored = model.entries[key]
        earlier = stored.call
        same = (
            isinstance(earlier, ReversalCall)
            and (earlier.entry_id, earlier.reason) == (call.entry_id, call.reason)
            and call.amount in (0, model.posted[stored.entry_id].amount)
        )
        if not same:
            return Expected("IDEMPOTENCY_KEY_REUSED")
        return Expected(OK, stored.entry_id, stored.balance_after, stored.held_after)
    if key in model.holds_by_key:
        return Expected("IDEMPOTENCY_KEY_REUSED")
    original = model.posted.get(call.entry_id)
    if original is None or original.customer_id != call.customer_id:
        return Expected("ENTRY_NOT_FOUND")
    if original.kind not in ("credit", "debit"):
        return Expected("ENTRY_NOT_REVERSIBLE")
    trial = copy.deepcopy(model.wallet(call.customer_id))
    reversible = _reversible(trial, original)
    amount = call.amount or reversible
    if amount == 0 or amount > reversible:
        return Expected("REVERSAL_EXCEEDS_ENTRY")
    _apply(trial, original, amount)
    return after(OK, trial)


def record_reversal(model: ContractModel, call: ReversalCall, entry_id: str) -> None:
    """The service applied `call` (not a replay) as `entry_id`."""
    wallet = model.wallet(call.customer_id)
    original = model.posted[call.entry_id]
    amount = call.amount or _reversible(wallet, original)
    _apply(wallet, original, amount)
    original.reversed += amount
    model.posted[entry_id] = Posted(call.customer_id, "reversal", amount)
    model.entries[(call.customer_id, call.key)] = StoredEntry(call, entry_id, wallet.balance, wallet.held)
