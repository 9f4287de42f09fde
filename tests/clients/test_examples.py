"""Every example script in clients/examples runs against the real server, as a user would run it."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest

from wallet_client import AsyncWalletClient

EXAMPLES = Path(__file__).resolve().parents[2] / "clients" / "examples"

# What each example must print (its scenario's visible outcome).
EXPECTED = {
    "welcome_credits.py": [
        "signup event #1: bonus granted",
        "signup event #2: already granted",
        "USD balance: $10.00",
    ],
    "charge_api_usage.py": [
        "200 {'charged': '$0.60', 'balance': '$0.40'}",
        "402 {'error': 'insufficient_balance', 'balance': '$0.40', 'required': '$0.60'}",
    ],
    "buy_credits.py": ["credited $50.00 for payment pi_", "already credited", "USD balance: $50.00"],
    "low_balance_check.py": ["is below $5.00: send a top-up reminder"],
    "monthly_statement.py": [
        # A tie of $1.20: by value, so chat-large first.
        "  chat-large      $1.20  1 debit\n  vision-xl       $1.20  1 debit\n  chat-small      $0.45  2 debits\n"
        "  (none)          $0.25  1 debit\n  total           $3.10  5 debits",
        "Balance: $0.00 at the start, $6.90 at the end",
    ],
    "low_balance_notifier.py": [
        ": USD available $3.00 is below $5.00: reminder sent",
        "notifier stopped at ev_",
        ": USD available $2.00 is below $5.00: reminder sent",
    ],
    "auto_top_up.py": [": low, topped up $20.00 by le_", "replayed, already topped up by le_", "USD balance: $22.00"],
    "multi_currency.py": ["₹15,000.00 (1500000 minor units)", "$100.00 (10000 minor units)"],
    "refund.py": ["second refund refused: 0 left to reverse", "refunded $19.99 of le_", "USD balance: $50.00"],
    "reserve_then_charge.py": [
        "-a: charged $1.75 for 7 min, $3.25 returned; balance $6.25, held $0.00, available $6.25",
        "-b: failed (out of GPU memory), nothing charged; balance $6.25, held $0.00, available $6.25",
        "-c: not started, $3.75 short of the worst case $5.00",
        ": balance $6.25, held $0.00, available $6.25",
    ],
}


def test_every_example_is_tested() -> None:
    assert sorted(p.name for p in EXAMPLES.glob("*.py")) == sorted(EXPECTED)


@pytest.mark.parametrize("script", sorted(EXPECTED))
async def test_example_runs_against_the_server(script: str, target: str) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(EXAMPLES / script),
        env={**os.environ, "WALLET_ADDR": target, "PYTHONIOENCODING": "utf-8"},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
    output = stdout.decode()
    assert process.returncode == 0, stderr.decode()
    for expected in EXPECTED[script]:
        assert expected in output, output
    if script == "low_balance_check.py":
        assert output.count("top-up reminder") == 1, output
    if script == "low_balance_notifier.py":
        # The restarted notifier carried on after its stored cursor: the first reminder was not sent again.
        assert output.count("reminder sent") == 2, output
    if script == "auto_top_up.py":
        assert output.count("topped up $20.00") == 1, output


async def test_the_five_line_usage_of_docs_clients_md_runs(target: str, customer_id: str) -> None:
    doc = (EXAMPLES.parents[1] / "docs" / "clients.md").read_text()
    snippet = doc.split("```python\n", 1)[1].split("```", 1)[0]
    assert len(snippet.strip().splitlines()) == 5
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        snippet.replace("cus_1", customer_id),
        env={**os.environ, "WALLET_ADDR": target},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 0, stderr.decode()
    assert stdout.decode().strip() == "10000"


async def run_example(target: str, script: str, *args: str) -> str:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(EXAMPLES / script),
        *args,
        env={**os.environ, "WALLET_ADDR": target, "PYTHONIOENCODING": "utf-8"},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 0, stderr.decode()
    return stdout.decode()


async def test_the_notifier_carries_on_after_its_cursor_file_from_one_process_to_the_next(
    target: str, customer_id: str, tmp_path: Path
) -> None:
    cursor_file = tmp_path / "notifier.cursor"
    arguments = (customer_id, "--cursor-file", str(cursor_file), "--stop-after", "1")
    async with AsyncWalletClient(target) as wallet:
        await wallet.credit(customer_id, 1_000, "USD")
        await wallet.set_low_balance_threshold(customer_id, "USD", 600)
        await wallet.debit(customer_id, 500, "USD")  # $5.00: low
        first = await run_example(target, "low_balance_notifier.py", *arguments)
        stored = cursor_file.read_text().strip()
        await wallet.credit(customer_id, 500, "USD")  # $10.00: recovered
        await wallet.debit(customer_id, 900, "USD")  # $1.00: low again
        second = await run_example(target, "low_balance_notifier.py", *arguments)
    assert "available $5.00 is below $6.00: reminder sent" in first
    assert second.strip().endswith("available $1.00 is below $6.00: reminder sent")
    assert second.count("reminder sent") == 1
    assert stored.startswith("ev_") and cursor_file.read_text().strip() != stored
