"""What `wallet` says when a reversal is refused: amounts in the entry's currency, and what to do instead."""

from __future__ import annotations

from collections.abc import Mapping

from wallet_client.money import format_money
from wallet_client.reversal_errors import EntryNotFound, EntryNotReversible, ReversalExceedsEntry

REVERSAL_REFUSALS = (ReversalExceedsEntry, EntryNotReversible, EntryNotFound)


def reversal_message(
    error: ReversalExceedsEntry | EntryNotReversible | EntryNotFound, currency: str, exponents: Mapping[str, int]
) -> str:
    if isinstance(error, EntryNotFound):
        return f"No entry {error.entry_id}: the customer has no entry with this id"
    if isinstance(error, EntryNotReversible):
        return f"{error.message}; only credits and debits are reversed"
    if currency and currency in exponents:
        left = format_money(error.reversible, currency, exponents[currency])
        asked = format_money(error.amount, currency, exponents[currency])
    else:
        left, asked = f"{error.reversible} minor units", f"{error.amount} minor units"
    if error.reversible == 0:
        return f"Nothing of entry {error.entry_id} is left to reverse"
    return f"Reversal of {asked} exceeds what entry {error.entry_id} has left to reverse: {left}"
