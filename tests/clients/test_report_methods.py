"""Summaries and balances as of an instant through both clients, against the real server and PostgreSQL.

The blocking client runs in a worker thread (asyncio.to_thread): the server
runs on this test's event loop, which must keep turning while it waits.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from tests.clients.conftest import FAST_RETRY
from tests.seeding import seed_history
from wallet_client import (
    AsyncWalletClient,
    InvalidRequest,
    LedgerSummary,
    MetadataBreakdown,
    Period,
    SummaryBucket,
    WalletClient,
)

MARCH = datetime(2025, 3, 1, tzinfo=UTC)


def _seed(database_url: str, customer_id: str) -> None:
    seed_history(
        database_url,
        customer_id,
        [
            (MARCH, "credit", 10_000, {}),
            (MARCH + timedelta(days=1), "debit", 300, {"model": "m-large"}),
            (MARCH + timedelta(days=1, hours=1), "debit", 100, {"model": "m-small"}),
            (MARCH + timedelta(days=40), "debit", 50, {}),
        ],
    )


async def test_both_clients_summarize_by_month_with_a_breakdown_as_typed_buckets(
    aclient: AsyncWalletClient, target: str, customer_id: str, database_url: str
) -> None:
    _seed(database_url, customer_id)
    arguments = (customer_id, "USD", MARCH, datetime(2025, 5, 1, tzinfo=UTC))
    options = {"period": Period.MONTH, "time_zone": "Europe/Berlin", "group_by_metadata_key": "model"}
    summary = await aclient.summarize(*arguments, **options)  # type: ignore[arg-type]

    def blocking() -> LedgerSummary:
        with WalletClient(target, retry=FAST_RETRY) as client:
            return client.summarize(
                *arguments, period="month", time_zone="Europe/Berlin", group_by_metadata_key="model"
            )

    assert await asyncio.to_thread(blocking) == summary
    assert isinstance(summary, LedgerSummary) and len(summary) == 3
    assert (summary.customer_id, summary.currency, summary.time_zone, summary.minor_unit_exponent) == (
        customer_id,
        "USD",
        "Europe/Berlin",
        2,
    )
    first, second, third = summary
    assert isinstance(first, SummaryBucket)
    # Berlin's March begins an hour before UTC's: the first bucket is clipped to the range.
    assert (first.start_time, first.end_time) == (MARCH, datetime(2025, 3, 31, 22, tzinfo=UTC))
    assert (first.opening_balance, first.credited, first.debited, first.closing_balance) == (0, 10_000, 400, 9_600)
    assert first.debits_by_metadata == (MetadataBreakdown("m-large", 300, 1), MetadataBreakdown("m-small", 100, 1))
    assert (second.debited, second.debits_by_metadata) == (50, (MetadataBreakdown("(none)", 50, 1),))
    assert (third.opening_balance, third.closing_balance, third.debit_count) == (9_550, 9_550, 0)


async def test_both_clients_read_balances_as_of_an_instant(
    aclient: AsyncWalletClient, target: str, customer_id: str, database_url: str
) -> None:
    _seed(database_url, customer_id)
    moment = MARCH + timedelta(days=1)  # the 300 debit is at this very instant: not counted yet
    balances = await aclient.get_balances(customer_id, as_of=moment)

    def blocking() -> int:
        with WalletClient(target, retry=FAST_RETRY) as client:
            return client.get_balances(customer_id, as_of=moment + timedelta(microseconds=1))["USD"].balance

    assert (balances["USD"].balance, balances["USD"].version) == (10_000, 1)
    assert await asyncio.to_thread(blocking) == 9_700


async def test_bad_report_arguments_fail_in_the_client_or_name_the_field(
    aclient: AsyncWalletClient, customer_id: str
) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        await aclient.summarize(customer_id, "USD", datetime(2025, 1, 1), datetime(2025, 2, 1))
    with pytest.raises(ValueError, match="'fortnight' is not a valid Period"):
        await aclient.summarize(customer_id, "USD", MARCH, MARCH + timedelta(days=1), period="fortnight")
    with pytest.raises(InvalidRequest) as refused:
        await aclient.summarize(customer_id, "USD", MARCH, MARCH + timedelta(days=1), time_zone="Moon/Tranquility")
    assert [v.field for v in refused.value.violations] == ["time_zone"]
    with pytest.raises(InvalidRequest) as future:
        await aclient.get_balances(customer_id, as_of=datetime.now(UTC) + timedelta(days=1))
    assert [v.field for v in future.value.violations] == ["as_of"]
