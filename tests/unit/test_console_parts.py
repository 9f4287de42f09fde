"""The console's parts that need no browser: its settings, periods, money and times, and sessions."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest

from wallet_client import Balances, LedgerSummary, SummaryBucket, Wallet
from wallet_console import action_forms, actions, chart
from wallet_console.customer_view import PERIODS, chart_start
from wallet_console.format import money, time_left
from wallet_console.history_filters import HistoryQuery, QueryError
from wallet_console.sessions import SessionStore
from wallet_console.settings import ConsoleSettings, SettingsError, is_loopback

NOW = datetime(2026, 12, 7, 1, 30, tzinfo=UTC)  # a Monday


def test_the_chart_starts_on_a_local_midnight_monday_or_first_of_the_month() -> None:
    assert chart_start(NOW, "day", "UTC") == datetime(2026, 11, 8, tzinfo=UTC)
    assert chart_start(NOW, "week", "UTC") == datetime(2026, 9, 21, tzinfo=UTC)  # 11 Mondays before this one
    assert chart_start(NOW, "month", "UTC") == datetime(2026, 1, 1, tzinfo=UTC)
    kolkata = chart_start(NOW, "day", "Asia/Kolkata")
    assert (kolkata.hour, kolkata.minute, str(kolkata.tzinfo)) == (0, 0, "Asia/Kolkata")
    assert chart_start(NOW, "day", "Nowhere/Else") == datetime(2026, 11, 8, tzinfo=UTC)  # the service names it
    assert PERIODS == {"day": 30, "week": 12, "month": 12}


def test_money_keeps_its_minor_units_for_hover() -> None:
    shown = str(money(15_000, "USD", 2, signed="+"))
    assert shown == '<data class="money" value="15000" title="15000 minor units">+$150.00</data>'


def test_time_left_reads_like_a_clock() -> None:
    assert time_left(NOW + timedelta(minutes=14, seconds=5), NOW) == "14m 05s left"
    assert time_left(NOW + timedelta(hours=2, minutes=10), NOW) == "2h 10m left"
    assert time_left(NOW + timedelta(days=3, hours=4), NOW) == "3d 4h left"
    assert time_left(NOW - timedelta(seconds=1), NOW) == "lapsed"


def test_history_dates_are_utc_days_and_until_counts_its_whole_day() -> None:
    filters = HistoryQuery.of({"since": "2026-12-01", "until": "2026-12-02", "type": "debit"}).filters()
    assert filters["created_after"] == datetime(2026, 12, 1, tzinfo=UTC)
    assert filters["created_before"] == datetime(2026, 12, 3, tzinfo=UTC)
    assert filters["entry_type"] == "debit" and filters["newest_first"] is True
    with pytest.raises(QueryError, match="From"):
        HistoryQuery.of({"since": "yesterday"}).filters()
    assert HistoryQuery.of({"type": "refund"}).entry_type == ""


def test_settings_check_the_address_and_the_remote_switch() -> None:
    assert ConsoleSettings.from_env({}).host_port() == ("127.0.0.1", 8080)
    assert ConsoleSettings.from_env({"WALLET_CONSOLE_ADDR": "[::1]:0"}).host_port() == ("::1", 0)
    assert ConsoleSettings.from_env({"WALLET_CONSOLE_ALLOW_REMOTE": "1"}).allow_remote
    with pytest.raises(SettingsError, match="host:port"):
        ConsoleSettings(addr="8080").host_port()
    with pytest.raises(SettingsError, match="use 1 or 0"):
        ConsoleSettings.from_env({"WALLET_CONSOLE_ALLOW_REMOTE": "maybe"})
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("10.0.0.5")


def test_sessions_are_random_bounded_and_forgotten() -> None:
    store = SessionStore(idle_s=3600, limit=2)
    first, second = store.create(), store.create()
    assert first.id != second.id and first.csrf != second.csrf and len(first.id) >= 40
    assert store.get(first.id) is first
    third = store.create()  # over the limit: the least recently used (second) goes
    assert store.get(second.id) is None and store.get(third.id) is third
    store.forget(first)
    assert store.get(first.id) is None and store.get(None) is None
    idle = SessionStore(idle_s=0, limit=10)
    gone = idle.create()
    gone.last_seen -= 1
    assert idle.get(gone.id) is None


def _summary(refunded: int, reclaimed: int) -> LedgerSummary:
    bucket = SummaryBucket(
        start_time=NOW, end_time=NOW + timedelta(days=1), opening_balance=0, closing_balance=2_500,
        credited=10_000, debited=4_000, expired=0, credit_count=1, debit_count=1, expiration_count=0,
        refunded=refunded, reclaimed=reclaimed, refund_count=1, reclaim_count=1,
    )  # fmt: skip
    return LedgerSummary("cus_1", "USD", "UTC", 2, (bucket,))


def test_the_chart_draws_refunds_and_reclaims_as_series_of_their_own_and_says_them() -> None:
    summary = _summary(refunded=1_234, reclaimed=500)
    words = chart.bucket_words(summary, summary.buckets[0], "Dec 07")
    assert words == (
        "Dec 07: Credited $100.00, Debited $40.00, Expired $0.00, Refunded $12.34, Reclaimed $5.00; "
        "closing balance $25.00"
    )
    drawn = str(chart.svg(summary, "day"))
    assert drawn.count('class="bar refunded"') == 2 and drawn.count('class="bar reclaimed"') == 2  # wide, narrow
    assert "refunded and reclaimed per day" in drawn


def _threshold(amount: str) -> actions.Plan:
    wallet = Wallet("cus_1", "USD", 1_000, 2, None, None, available_balance=1_000)
    form = {"currency": "USD", "amount": amount}
    return asyncio.run(actions.threshold("cus_1", form, Balances("cus_1", (wallet,)), cast(Any, None)))


def test_amounts_typed_in_the_console_are_read_by_the_strict_parser_zero_only_where_it_means_something() -> None:
    assert _threshold("0").question == "Switch off low-balance alerts for cus_1's USD wallet?"
    assert _threshold("0.00").question.startswith("Switch off")
    assert _threshold("1,500.00").question.endswith("low below $1,500.00?")
    for text in ("...", "0.0.0", "1,50", "-5", "0x10"):
        with pytest.raises(action_forms.FormError, match="is not an amount"):
            _threshold(text)
