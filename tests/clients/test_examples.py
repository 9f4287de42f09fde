"""Every example script in clients/examples runs against the real server, as a user would run it."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest

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
    "multi_currency.py": ["₹15,000.00 (1500000 minor units)", "$100.00 (10000 minor units)"],
    "refund.py": ["refunded $19.99 of le_", "USD balance: $50.00"],
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
