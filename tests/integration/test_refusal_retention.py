"""Stored refusals are kept for their retention, then pruned by the background pass's call, freeing the key.

A ledger of its own, on its own clock: moving a month ahead must not move the clock of the session's
server, which other tests (and the console's "time left") read as now.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from server.domain.errors import InsufficientFunds
from server.domain.model import EntryRequest, EntryType
from tests.database import scratch_database
from tests.ledgers import ledger_on


def test_a_stored_refusal_is_kept_its_retention_then_pruned_and_the_key_is_free_again(database_url: str) -> None:
    with scratch_database(database_url) as url:
        asyncio.run(_prune_after_retention(url))


async def _prune_after_retention(url: str) -> None:
    debit = EntryRequest("cus_kept", "USD", EntryType.DEBIT, 500, "usage", "old", {})
    async with ledger_on(url) as ledger:
        with pytest.raises(InsufficientFunds):
            await ledger.create_entry(debit)
        await ledger.create_entry(EntryRequest("cus_kept", "USD", EntryType.CREDIT, 1_000, "top-up", "", {}))
        ledger.clock.advance(timedelta(days=29))  # kept 30 days by default
        assert await ledger.prune_refusals(1_000) == 0
        with pytest.raises(InsufficientFunds) as again:
            await ledger.create_entry(debit)
        assert again.value.metadata["replayed"] == "true"
        ledger.clock.advance(timedelta(days=2))
        assert await ledger.prune(1_000) >= 1  # the pass prunes refusals (and events) past retention
        applied = await ledger.create_entry(debit)
        assert (applied.wallet.balance, applied.idempotent_replay) == (500, False)
