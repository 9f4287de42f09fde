"""`wallet report` and `wallet balances --as-of` through Typer's test runner, against the real server.

Commands run in a worker thread: the server they talk to runs on this test's event loop.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.clients.test_cli import assert_explained, wallet
from tests.seeding import SeededEntry, seed_history

MARCH = datetime(2025, 3, 3, tzinfo=UTC)  # a Monday
HISTORY: list[SeededEntry] = [
    (MARCH, "credit", 10_000, {}),
    (MARCH + timedelta(hours=10), "debit", 1_250, {"model": "large"}),
    (MARCH + timedelta(days=1, hours=9), "debit", 250, {"model": "small"}),
    (MARCH + timedelta(days=1, hours=10), "debit", 500, {}),
]
RANGE = ["--since", "2025-03-03", "--until", "2025-03-06"]


async def test_report_prints_a_table_in_money_and_a_chart_of_credits_and_debits_per_day(
    target: str, customer_id: str, database_url: str
) -> None:
    seed_history(database_url, customer_id, HISTORY)
    result = await wallet(target, "report", customer_id, "--currency", "usd", *RANGE, "--by-metadata", "model")
    assert result.exit_code == 0, result.output
    lines = [line.rstrip() for line in result.stdout.splitlines()]
    table = next(line for line in lines if "2025-03-04 Tue" in line)
    for cell in ("$87.50", "$0.00", "$7.50", "$80.00"):
        assert cell in table
    # The breakdown has a table of its own: one row per day and value.
    breakdown = lines[lines.index("Debits by model") :]
    for day, value, amount in (("2025-03-04 Tue", "small", "$2.50"), ("2025-03-03 Mon", "large", "$12.50")):
        assert any(line.split()[:4] == [*day.split(), value, amount] for line in breakdown), breakdown
    assert any("(none)" in line and "$5.00" in line for line in breakdown)
    chart_start = lines.index("Credits █ and debits █ per day")
    chart = [line for line in lines[chart_start:] if "█" in line and "+$" in line]
    # Monday: credits of $100.00 fill the chart's width; the other days have none.
    assert chart[0].count("█") == 40 and "+$100.00" in chart[0]
    assert [line[:14] for line in lines[chart_start:] if line.startswith("2025-03-0")] == [
        "2025-03-03 Mon",
        "2025-03-04 Tue",
        "2025-03-05 Wed",
    ]


async def test_report_saves_the_same_picture_as_svg(
    target: str, customer_id: str, database_url: str, tmp_path: Path
) -> None:
    seed_history(database_url, customer_id, HISTORY)
    picture = tmp_path / "trend.svg"
    result = await wallet(target, "report", customer_id, "--currency", "USD", *RANGE, "--svg", str(picture))
    assert result.exit_code == 0, result.output
    svg = picture.read_text()
    assert svg.startswith("<svg") and "2025-03-04" in svg and "$100.00" in svg


async def test_report_as_json_and_csv_for_scripts_in_minor_units(
    target: str, customer_id: str, database_url: str
) -> None:
    seed_history(database_url, customer_id, HISTORY)
    as_json = await wallet(
        target, "report", customer_id, "--currency", "USD", *RANGE, "--period", "week", "--format", "json"
    )
    assert as_json.exit_code == 0, as_json.output
    document = json.loads(as_json.stdout)
    (week,) = document["buckets"]
    assert (week["opening_balance"], week["credited"], week["debited"], week["closing_balance"]) == (
        0,
        10_000,
        2_000,
        8_000,
    )
    assert (document["time_zone"], document["minor_unit_exponent"]) == ("UTC", 2)

    as_csv = await wallet(
        target, "report", customer_id, "--currency", "USD", *RANGE, "--format", "csv", "--by-metadata", "model"
    )
    assert as_csv.exit_code == 0, as_csv.output
    rows = list(csv.DictReader(io.StringIO(as_csv.stdout)))
    assert [(r["start_time"][:10], r["metadata_value"], r["metadata_amount"]) for r in rows] == [
        ("2025-03-03", "large", "1250"),
        ("2025-03-04", "small", "250"),
        ("2025-03-04", "(none)", "500"),
        ("2025-03-05", "", ""),
    ]


async def test_report_days_are_local_to_the_time_zone_given(target: str, customer_id: str, database_url: str) -> None:
    seed_history(database_url, customer_id, HISTORY)
    result = await wallet(
        target, "report", customer_id, "--currency", "USD", *RANGE, "--time-zone", "Asia/Tokyo", "--format", "json"
    )
    assert result.exit_code == 0, result.output
    buckets = json.loads(result.stdout)["buckets"]
    # 2025-03-03 00:00 in Tokyo is 15:00 UTC the day before; the 10:00 UTC debit falls on Tokyo's 3 March.
    assert buckets[0]["start_time"] == "2025-03-02T15:00:00+00:00"
    assert [b["debited"] for b in buckets] == [1_250, 750, 0]


async def test_report_refuses_an_unknown_zone_before_calling(target: str, customer_id: str) -> None:
    result = await wallet(target, "report", customer_id, "--currency", "USD", "--time-zone", "Nowhere/Land")
    assert result.exit_code == 2
    assert "is not an IANA time zone" in result.output


async def test_balances_as_of_shows_the_wallets_as_they_stood(target: str, customer_id: str, database_url: str) -> None:
    seed_history(database_url, customer_id, HISTORY)
    result = await wallet(target, "balances", customer_id, "--as-of", "2025-03-04", "--format", "json")
    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)
    assert shown["as_of"] == "2025-03-04T00:00:00+00:00"
    usd = next(w for w in shown["wallets"] if w["currency"] == "USD")
    assert (usd["balance"], usd["display"], usd["version"]) == (8_750, "$87.50", 2)
    table = await wallet(target, "balances", customer_id, "--as-of", "2025-03-04")
    assert "as of 2025-03-04 00:00:00 UTC" in table.stdout and "$87.50" in table.stdout


async def test_balances_as_of_the_future_is_explained(target: str, customer_id: str) -> None:
    result = await wallet(target, "balances", customer_id, "--as-of", "2999-01-01")
    assert_explained(result, 2, "Invalid request: as_of must not be in the future")
