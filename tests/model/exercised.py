"""What the contract machine's runs exercised, by kind of situation: the test prints it (pytest -rP shows it).

Random sequences reach some situations seldom; these counts say whether a
run reached them (a credit lapsing partly spent or held, a hold or a refund
giving money back to a lapsed credit, a credit retried after its expire
time), without making the test depend on luck.
"""

from __future__ import annotations

from collections import Counter

from tests.model.contract import ContractModel
from tests.model.credits import POOL
from tests.model.records import OK, EntryCall, Expected, ReversalCall, StoredHold

EXERCISED: Counter[str] = Counter()


def lapsing(model: ContractModel, now: float) -> None:
    """How the credits about to lapse (in the model) stand: spent, held, neither."""
    for wallet in model.wallets.values():
        for lot in wallet.lots.values():
            if not lot.lapsed and lot.expire_at < now:
                spent = "unspent" if lot.remaining == lot.amount else "partly spent" if lot.remaining else "spent"
                EXERCISED[f"a credit lapses {spent}{', partly held' if lot.held else ''}"] += 1


def closing(model: ContractModel, what: str, hold: StoredHold, expected: Expected) -> None:
    lots = model.wallet(hold.call.customer_id).lots
    lapsed = any(lot_id != POOL and lots[lot_id].lapsed for lot_id, _ in hold.reservations)
    if lapsed and expected.outcome == OK and not expected.replay_of:
        EXERCISED[f"{what} gives back to a lapsed credit"] += 1


def entry(model: ContractModel, call: EntryCall, expected: Expected, now: float) -> None:
    if call.expire_at is not None and call.expire_at <= now:
        replay = " (replay)" if expected.replay_of else ""
        EXERCISED[f"a credit sent after its expire time: {expected.outcome}{replay}"] += 1
    if call.kind == "debit" and expected.outcome == OK and not expected.replay_of:
        parts = model.wallet(call.customer_id).take_unheld(call.amount)
        EXERCISED[f"a debit draws on {len([p for p in parts if p[0] != POOL])} expiring credits"] += 1


def reversal(model: ContractModel, call: ReversalCall, expected: Expected) -> None:
    original = model.posted.get(call.entry_id)
    if expected.outcome != OK or expected.replay_of or original is None:
        EXERCISED[f"a reversal: {expected.outcome}{' (replay)' if expected.replay_of else ''}"] += 1
        return
    lots = model.wallet(call.customer_id).lots
    lapsed = any(lot_id != POOL and lots[lot_id].lapsed for lot_id, _ in original.draws)
    what = "a refund" if original.kind == "debit" else "a reclaim"
    EXERCISED[f"{what}{' of a debit that drew on a lapsed credit' if lapsed else ''}"] += 1
